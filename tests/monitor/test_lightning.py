from __future__ import annotations

import lightning.pytorch as pl
import torch

from htsr.monitor import load_history
from htsr.monitor.lightning import LightningMonitor


class _Tiny(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = torch.nn.Linear(16, 24)
        self.fc2 = torch.nn.Linear(24, 4)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = torch.nn.functional.cross_entropy(self(x), y)
        self.log("train_loss", loss, on_epoch=True, on_step=False)
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.05)


def test_lightning_callback_records_every_epoch(tmp_path):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(64, 16, generator=gen)
    y = torch.randint(0, 4, (64,), generator=gen)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=16)
    callback = LightningMonitor(tmp_path / "h.sqlite", run="pl", min_evals=4)
    trainer = pl.Trainer(
        max_epochs=2,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[callback],
    )
    trainer.fit(_Tiny(), loader)
    frame = load_history(tmp_path / "h.sqlite")
    assert sorted(set(frame["epoch"])) == [0, 1, 2]
    assert set(frame["name"]) == {"fc1.weight", "fc2.weight"}
    assert frame.loc[frame["epoch"] == 2, "train_loss"].notna().all()
