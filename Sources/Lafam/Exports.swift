// `import Lafam` brings the interpreter (`LafamRuntime`) with the explainers and metrics.
@_exported import LafamRuntime
