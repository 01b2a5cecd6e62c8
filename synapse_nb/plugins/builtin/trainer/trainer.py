"""A softmax classifier trained with numpy: the model lifecycle in a few seconds.

The data are seeded Gaussian blobs (one per class), so a run is repeatable. Each epoch logs
its loss and accuracy (as metrics and as a console line with the ETA) and saves a checkpoint;
a stop request ends the run after the current epoch, and ``resume_from=<job id>`` continues
that job's run from its last saved epoch. At the end the model is registered on the backend
with its checkpoint file and metrics.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

CLASSES = ("circle", "square", "triangle")
FEATURES = 8


def make_data(samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``samples`` points in ``FEATURES`` dimensions, one Gaussian blob per class."""
    rng = np.random.default_rng(seed)
    centers = np.random.default_rng(12345).normal(0.0, 0.8, size=(len(CLASSES), FEATURES))
    labels = rng.integers(0, len(CLASSES), size=samples)
    points = centers[labels] + rng.normal(0.0, 1.0, size=(samples, FEATURES))
    return points, labels


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def evaluate(weights: np.ndarray, bias: np.ndarray, x: np.ndarray, y: np.ndarray) -> dict:
    probs = softmax(x @ weights + bias)
    loss = float(-np.log(probs[np.arange(len(y)), y] + 1e-12).mean())
    return {"loss": round(loss, 5), "accuracy": round(float((probs.argmax(1) == y).mean()), 5)}


def sgd_epoch(
    weights: np.ndarray,
    bias: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    lr: float,
    batch: int,
    rng: np.random.Generator,
) -> None:
    order = rng.permutation(len(y))
    onehot = np.eye(len(CLASSES))[y]
    for start in range(0, len(y), batch):
        idx = order[start : start + batch]
        grad = softmax(x[idx] @ weights + bias) - onehot[idx]
        weights -= lr * x[idx].T @ grad / len(idx)
        bias -= lr * grad.mean(axis=0)


def save_checkpoint(
    folder: Path, epoch: int, weights: np.ndarray, bias: np.ndarray, history: list[dict]
) -> Path:
    path = folder / f"epoch-{epoch:04d}.npz"
    np.savez(path, weights=weights, bias=bias, epoch=epoch)
    (folder / "history.json").write_text(json.dumps(history))
    (folder / "latest.json").write_text(json.dumps({"epoch": epoch, "file": path.name}))
    return path


def load_checkpoint(folder: Path) -> tuple[int, np.ndarray, np.ndarray, list[dict]]:
    latest = json.loads((folder / "latest.json").read_text())
    data = np.load(folder / latest["file"])
    history = json.loads((folder / "history.json").read_text())
    return int(data["epoch"]), data["weights"].copy(), data["bias"].copy(), history


def _resume(ctx: Any, job_id: str | None) -> tuple[int, np.ndarray | None, Any, list[dict]]:
    if not job_id:
        return 0, None, None, []
    folder = ctx.checkpoint_dir_of(job_id)
    if folder is None or not (folder / "latest.json").is_file():
        raise ValueError(f"resume_from: job {job_id!r} has no saved checkpoint to resume from")
    epoch, weights, bias, history = load_checkpoint(folder)
    ctx.log_message(f"Resuming from epoch {epoch} of job {job_id}", step="resume")
    for record in history:  # the new job's metrics show the whole run
        ctx.log_metrics({k: v for k, v in record.items() if k != "epoch"}, step=record["epoch"])
    return epoch, weights, bias, history


def train(params: dict, ctx: Any) -> dict:
    """Train (or resume) for ``epochs`` epochs in total; returns the final metrics."""
    epochs = params["epochs"]
    x, y = make_data(params["samples"], params["seed"])
    split = int(len(y) * 0.8)
    rng = np.random.default_rng(params["seed"] + 1)
    done, weights, bias, history = _resume(ctx, params.get("resume_from"))
    if weights is None:
        weights = np.zeros((FEATURES, len(CLASSES)))
        bias = np.zeros(len(CLASSES))
    started = time.monotonic()
    checkpoint = None
    for epoch in range(done + 1, epochs + 1):
        sgd_epoch(
            weights, bias, x[:split], y[:split], params["learning_rate"], params["batch_size"], rng
        )
        train_m = evaluate(weights, bias, x[:split], y[:split])
        val_m = evaluate(weights, bias, x[split:], y[split:])
        record = {
            "epoch": epoch,
            "loss": train_m["loss"],
            "val_loss": val_m["loss"],
            "accuracy": train_m["accuracy"],
            "val_accuracy": val_m["accuracy"],
        }
        history.append(record)
        checkpoint = save_checkpoint(ctx.checkpoint_dir, epoch, weights, bias, history)
        ctx.log_metrics({k: v for k, v in record.items() if k != "epoch"}, step=epoch)
        progress = ctx.set_progress(epoch - done, epochs - done, "train")
        eta = progress["eta_seconds"]
        ctx.log_message(
            f"epoch {epoch}/{epochs} loss={record['loss']:.4f} val_loss={record['val_loss']:.4f}"
            f" val_accuracy={record['val_accuracy']:.3f} ETA {eta:.1f} s",
            step="train",
        )
        if params["delay"]:
            time.sleep(params["delay"])
        if ctx.stop_requested:
            ctx.log_message(
                f"Stop requested: stopped after epoch {epoch} (checkpoint saved; "
                f"resume with resume_from={ctx.job_id!r})",
                level="warning",
                step="train",
            )
            return {"stopped_at_epoch": epoch, "history": history}
    final = history[-1] if history else {}
    result: dict[str, Any] = {
        "epochs": len(history),
        "metrics": final,
        "seconds": round(time.monotonic() - started, 3),
    }
    if params["register"] and checkpoint is not None:
        result["model"] = register(ctx, params, checkpoint, final)
    return result


def register(ctx: Any, params: dict, checkpoint: Path, metrics: dict) -> int:
    """Create the model on the backend with the checkpoint file and its metrics."""
    model = ctx.client.create_model(
        {
            "name": params["model_name"],
            "file": str(checkpoint),
            "version": f"epoch-{metrics['epoch']}",
            "description": f"numpy softmax classifier, job {ctx.job_id}",
            "configuration": {
                "classes": list(CLASSES),
                "features": FEATURES,
                "learning_rate": params["learning_rate"],
            },
            "metrics": {k: v for k, v in metrics.items() if k != "epoch"},
        }
    )
    ctx.log_message(
        f"Registered model {model['id']} ({params['model_name']})", level="success", step="register"
    )
    return int(model["id"])


def predict(params: dict, ctx: Any) -> dict:
    """Classify fresh samples with the last checkpoint of the training job ``from_job``."""
    folder = ctx.checkpoint_dir_of(params["from_job"])
    if folder is None or not (folder / "latest.json").is_file():
        raise ValueError(f"from_job: job {params['from_job']!r} saved no checkpoint")
    epoch, weights, bias, _ = load_checkpoint(folder)
    x, y = make_data(params["samples"], params["seed"])
    predicted = softmax(x @ weights + bias).argmax(1)
    accuracy = round(float((predicted == y).mean()), 5)
    counts = {name: int((predicted == i).sum()) for i, name in enumerate(CLASSES)}
    ctx.log_metrics({"accuracy": accuracy}, step=epoch, category="predict")
    ctx.log_message(f"Predicted {len(y)} samples with epoch {epoch}: accuracy={accuracy:.3f}")
    ctx.set_progress(1, 1, "predict")
    return {"epoch": epoch, "accuracy": accuracy, "counts": counts}
