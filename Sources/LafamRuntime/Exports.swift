// `import LafamRuntime` is the whole interpreter: tensors, the ONNX reader, the graph, the ops
// and the runtime (one module per layer underneath).
@_exported import LafamGraph
@_exported import LafamONNX
@_exported import LafamOps
@_exported import LafamTensor
