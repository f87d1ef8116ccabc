using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.Layers;
using FlexNet.Layers.Recurrent;

namespace FlexNet.Onnx;

/// <summary>What the export refuses, each with the layer or connection and the reason.</summary>
internal sealed partial class OnnxStep
{
    private void Check(bool learnedInitialState)
    {
        string net = $"ONNX export of network '{_net.Name}'";
        OnnxExportException Refuse(Layer layer, string why) =>
            new($"{net}: layer '{layer.Name}' of kind {layer.Kind} ({layer.GetType().Name}) {why}");
        foreach (var layer in _net.Layers)
        {
            if (layer.LearnInitialState && !learnedInitialState)
                throw new OnnxExportException($"{net}: layer '{layer.Name}' learns its initial state; the step form's state inputs start from zeros, so it is not supported there (the sequence and unrolled forms start from the learned state).");
            switch (layer)
            {
                case InputLayer or FlattenLayer or ReshapeLayer or PoolLayer or DropoutLayer or GaussianNoiseLayer:
                    break;
                case BatchNormLayer:
                    break;
                case RecurrentCellLayer r:
                    if (r.HasInitialStateInput)
                        throw Refuse(layer, "takes its initial state from another layer; the export starts every cell from zeros, so it is not supported.");
                    if (r.ForwardCell is not (RnnCell or GruCell or LstmCell))
                        throw Refuse(layer, $"has cell {r.ForwardCell?.GetType().Name}, which has no exact ONNX form here (only the RNN, GRU and LSTM cells are exported).");
                    if (r.IsWholeSequence && r.ForwardCell is RnnCell { Activation: RecurrentActivation.Linear })
                        throw Refuse(layer, "is a linear RNN over a whole [T, F] sequence; ONNX RNN has no linear activation (the stepped mode is exported as its equation).");
                    break;
                default:
                    if (!layer.HasPlainStep)
                        throw Refuse(layer, "computes its output with its own code (not y = act(combine + bias)); the export cannot see that computation, so it is not supported.");
                    if (ActivationOp(layer.Activation) is null)
                        throw Refuse(layer, $"has activation '{layer.Activation}', which has no ONNX form here (linear, relu, tanh, sigmoid, softmax, log-softmax, leaky-relu, elu, softplus and softsign have).");
                    break;
            }
        }
        foreach (var (layer, _) in _net.Outputs)
            if (layer is InputLayer)
                throw new OnnxExportException($"{net}: output '{layer.Name}' is an input layer; an ONNX graph output cannot have its input's name, so it is not exported.");
        foreach (var c in _net.Connections)
        {
            var kind = c is SharedConnection sh ? sh.Partner : c;
            bool ok = kind switch
            {
                DenseConnection or IdentityConnection or ElementwiseConnection or ComplementConnection or Conv2dConnection or Conv1dConnection or ConvTranspose2dConnection => true,
                TiedConnection t => t.Partner is not null,
                SequenceInputConnection => c.To is RecurrentCellLayer && c is not SharedConnection,
                _ => false,
            };
            if (!ok)
                throw new OnnxExportException($"{net}: connection '{c.Name}' ({c.From.Name} -> {c.To.Name}) of kind {c.Kind} ({c.GetType().Name}) is not supported; " +
                                              "dense, identity, elementwise, complement, conv1d, conv2d, convtranspose2d, tied (to a dense connection) and shared connections are.");
        }
    }
}
