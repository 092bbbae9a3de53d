"""Export to ONNX: `tc.onnx.export(model, example_input, "model.onnx", opset=17)` writes a model
that ONNX Runtime runs and Netron draws. Needs the `onnx` extra, imported only when exporting."""

from tinygrad_cnn.onnx.exporter import export, supported_ops

__all__ = ["export", "supported_ops"]
