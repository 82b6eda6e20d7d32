"""keras.callbacks.Callback as keras 3 defines it: `model` is a read-only property backed by
_model, set through set_model(); every hook exists as a no-op. Tests only."""


class Callback:
    def __init__(self):
        self.params = None
        self._model = None

    def set_params(self, params):
        self.params = params

    def set_model(self, model):
        self._model = model

    @property
    def model(self):
        return self._model

    def _noop(self, *args, **kwargs):
        pass

    on_batch_begin = on_batch_end = on_epoch_begin = on_epoch_end = _noop
    on_train_batch_begin = on_train_batch_end = on_test_batch_begin = on_test_batch_end = _noop
    on_predict_batch_begin = on_predict_batch_end = _noop
    on_train_begin = on_train_end = on_test_begin = on_test_end = _noop
    on_predict_begin = on_predict_end = _noop
