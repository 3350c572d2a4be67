import LafamGraph
import LafamTensor

/// An op that maps each channel (axis 1) of one input x to x·scale[c] + shift[c] with
/// coefficients known from constants: a BatchNormalization in inference mode, a Mul or Add by a
/// per-channel constant. What `fold-channel-affine` folds into the weights of the Conv before it.
protocol ChannelAffine: Operator {
    /// The coefficients for `channels` channels when input `input` is x, or nil when this node is
    /// not such a map for these inputs (parameters not constant, broadcast along another axis).
    func channelAffine(_ inputs: [ValueFacts?], input: Int, channels: Int) -> (scale: [Float], shift: [Float])?
}
