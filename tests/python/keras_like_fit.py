"""keras_like_fit.py -- a Keras-like fit loop (no TensorFlow) driving joulebench.KerasCallback.

Trains a real logistic-regression model with mini-batch gradient descent on a deterministic
two-class problem and calls its callbacks exactly in the order keras.Model.fit, evaluate and
predict do (set_model, set_params, on_train_begin, on_epoch_begin, batch hooks, on_test_*
for the validation pass, on_epoch_end with loss/accuracy/val_loss/val_accuracy, ...).
Prints "LOGS <json>" for each epoch's logs and "COUNTS dropped=N invalid=M" at the end, so
tests/e2e/python.bats can compare them with the markers the callback sent.

    keras_like_fit.py [EPOCHS] [--raw-callback]
"""

import json
import math
import random
import sys

import joulebench


class TinyModel:
    """Logistic regression on 2-D points, trained by the fit loop below."""

    def __init__(self):
        self.w = [0.0, 0.0]
        self.b = 0.0

    def prob(self, x):
        z = self.w[0] * x[0] + self.w[1] * x[1] + self.b
        return 1.0 / (1.0 + math.exp(-z))

    def step(self, batch, lr):
        gw0 = gw1 = gb = 0.0
        for x, y in batch:
            err = self.prob(x) - y
            gw0 += err * x[0]
            gw1 += err * x[1]
            gb += err
        n = len(batch)
        self.w[0] -= lr * gw0 / n
        self.w[1] -= lr * gw1 / n
        self.b -= lr * gb / n

    def scores(self, data):
        loss = correct = 0
        for x, y in data:
            p = min(max(self.prob(x), 1e-12), 1 - 1e-12)
            loss -= y * math.log(p) + (1 - y) * math.log(1 - p)
            correct += (p >= 0.5) == (y == 1)
        return {"loss": loss / len(data), "accuracy": correct / len(data)}

    def fit(self, data, epochs, validation_split, callbacks, batch_size=16, lr=0.5):
        n_val = int(len(data) * validation_split)
        train, val = data[n_val:], data[:n_val]
        steps = math.ceil(len(train) / batch_size)
        for cb in callbacks:
            cb.set_model(self)
            cb.set_params({"epochs": epochs, "steps": steps, "verbose": 0})
        call(callbacks, "on_train_begin", logs={})
        logs = {}
        for epoch in range(epochs):
            call(callbacks, "on_epoch_begin", epoch, logs={})
            for i in range(steps):
                call(callbacks, "on_train_batch_begin", i, logs={})
                self.step(train[i * batch_size : (i + 1) * batch_size], lr)
                call(callbacks, "on_train_batch_end", i, logs={})
            logs = self.scores(train)
            val_logs = self.evaluate(val, callbacks)
            logs.update({"val_" + k: v for k, v in val_logs.items()})
            logs["learning_rate"] = lr
            logs["note"] = "non-numeric values are skipped"
            print("LOGS " + json.dumps(logs), flush=True)
            call(callbacks, "on_epoch_end", epoch, logs=dict(logs))
        call(callbacks, "on_train_end", logs=logs)

    def evaluate(self, data, callbacks):
        call(callbacks, "on_test_begin", logs={})
        call(callbacks, "on_test_batch_begin", 0, logs={})
        logs = self.scores(data)
        call(callbacks, "on_test_batch_end", 0, logs=logs)
        call(callbacks, "on_test_end", logs=dict(logs))
        return logs

    def predict(self, points, callbacks):
        call(callbacks, "on_predict_begin", logs={})
        out = [self.prob(x) for x in points]
        call(callbacks, "on_predict_end", logs={})
        return out


def call(callbacks, hook, *args, **kwargs):
    for cb in callbacks:
        getattr(cb, hook)(*args, **kwargs)


def make_data(n, seed=7):
    rng = random.Random(seed)
    data = []
    for _ in range(n):
        y = rng.random() < 0.5
        centre = (1.0, 1.0) if y else (-1.0, -1.0)
        data.append(((centre[0] + rng.gauss(0, 0.8), centre[1] + rng.gauss(0, 0.8)), int(y)))
    return data


def main(argv):
    epochs = int(argv[0]) if argv else 3
    model = TinyModel()
    data = make_data(400)
    callback = joulebench.KerasCallback()
    model.fit(data, epochs, 0.2, [callback])
    held_out = make_data(50, seed=8)
    print("TEST " + json.dumps(model.evaluate(held_out, [callback])), flush=True)
    model.predict([x for x, _ in held_out], [callback])
    print("COUNTS dropped=%d invalid=%d" % (joulebench.dropped(), joulebench.invalid()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
