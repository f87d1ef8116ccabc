using FlexNet.Autodiff;
using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.Layers;

namespace FlexNet.Onnx;

/// <summary>The standard pieces: connections (Gemm, Mul/Add, Conv, ConvTranspose) and layer transforms (bias,
/// activations, Flatten, Reshape, pooling, batch norm, noise removed).</summary>
internal sealed partial class OnnxStep
{
    /// <summary>The ONNX op (and attributes) of a layer activation, or null when there is none.</summary>
    internal static (string Op, ProtoWriter[] Attributes)? ActivationOp(string name) => name.ToLowerInvariant() switch
    {
        "linear" or "identity" => ("Identity", []),
        "relu" => ("Relu", []),
        "tanh" => ("Tanh", []),
        "sigmoid" or "logistic" => ("Sigmoid", []),
        "softmax" => ("Softmax", [OnnxGraph.Int("axis", 1)]),
        "log-softmax" or "log_softmax" => ("LogSoftmax", [OnnxGraph.Int("axis", 1)]),
        "leaky-relu" or "leaky_relu" => ("LeakyRelu", [OnnxGraph.Float("alpha", 0.01f)]),
        "elu" => ("Elu", [OnnxGraph.Float("alpha", 1f)]),
        "softplus" => ("Softplus", []),
        "softsign" => ("Softsign", []),
        _ => null,
    };

    private string Contribution(Connection c, string src)
    {
        string w(string what, FlexNet.Tensors.Tensor t, int[]? dims = null) => _scope.Weight($"{c.Name}.{what}", t, dims);
        switch (c)
        {
            case DenseConnection d:
            {
                // Stryker disable once String: names only: this stem names an intermediate value, which OnnxModelScope.Fresh keeps unique and nothing looks up; the op and attribute names here fail every model ONNX Runtime runs
                if (Shape(c.From).Length > 1) src = Node("Flatten", [src], c.Name + ".flat", OnnxGraph.Int("axis", 1));
                var inputs = d.Bias is null ? new[] { src, w("weight", d.Weight) } : [src, w("weight", d.Weight), w("bias", d.Bias)];
                var outShape = c.OutputShape!;
                if (outShape.Length == 1) return Node("Gemm", inputs, c.Name, OnnxGraph.Int("transB", 1));
                // Stryker disable once String: names only: this stem names an intermediate value, which OnnxModelScope.Fresh keeps unique and nothing looks up; the op and attribute names here fail every model ONNX Runtime runs
                string flat = Node("Gemm", inputs, c.Name + ".flat", OnnxGraph.Int("transB", 1));
                // Stryker disable once String: names only: this stem names an intermediate value, which OnnxModelScope.Fresh keeps unique and nothing looks up; the op and attribute names here fail every model ONNX Runtime runs
                return Node("Reshape", [flat, _scope.Int64(c.Name + ".shape", [outShape.Length + 1], [-1, .. outShape.Select(x => (long)x)])], c.Name);
            }
            case ElementwiseConnection e:
            {
                string weight = w("weight", e.Weight);
                if (e.Bias is null) return Node("Mul", [src, weight], c.Name);
                // Stryker disable once String: names only: this stem names an intermediate value, which OnnxModelScope.Fresh keeps unique and nothing looks up; the op and attribute names here fail every model ONNX Runtime runs
                string scaled = Node("Mul", [src, weight], c.Name + ".scaled");
                return Node("Add", [scaled, w("bias", e.Bias)], c.Name);
            }
            case Conv2dConnection cv:
            {
                var s = Shape(c.From);
                int k = cv.KernelSize, st = cv.Stride, dl = cv.Dilation;
                var (top, bottom) = cv.Padding.IsSame ? Padding.SameAmounts(s[1], k, st, dl) : (cv.Padding.Top, cv.Padding.Bottom);
                var (left, right) = cv.Padding.IsSame ? Padding.SameAmounts(s[2], k, st, dl) : (cv.Padding.Left, cv.Padding.Right);
                var inputs = cv.Bias is null ? new[] { src, w("weight", cv.Weight) } : [src, w("weight", cv.Weight), w("bias", cv.Bias)];
                return Node("Conv", inputs, c.Name, OnnxGraph.Ints("kernel_shape", k, k), OnnxGraph.Ints("strides", st, st),
                    OnnxGraph.Ints("dilations", dl, dl), OnnxGraph.Ints("pads", top, left, bottom, right));
            }
            case Conv1dConnection cv:
            {
                var s = Shape(c.From);
                int k = cv.KernelSize, st = cv.Stride, dl = cv.Dilation;
                var (left, right) = cv.Padding.IsSame ? Padding.SameAmounts(s[1], k, st, dl) : (cv.Padding.Left, cv.Padding.Right);
                var inputs = cv.Bias is null ? new[] { src, w("weight", cv.Weight) } : [src, w("weight", cv.Weight), w("bias", cv.Bias)];
                return Node("Conv", inputs, c.Name, OnnxGraph.Ints("kernel_shape", k), OnnxGraph.Ints("strides", st),
                    OnnxGraph.Ints("dilations", dl), OnnxGraph.Ints("pads", left, right));
            }
            case ConvTranspose2dConnection ct:
            {
                int k = ct.KernelSize, st = ct.Stride, dl = ct.Dilation, p = ct.Padding;
                var inputs = ct.Bias is null ? new[] { src, w("weight", ct.Weight) } : [src, w("weight", ct.Weight), w("bias", ct.Bias)];
                return Node("ConvTranspose", inputs, c.Name, OnnxGraph.Ints("kernel_shape", k, k), OnnxGraph.Ints("strides", st, st),
                    OnnxGraph.Ints("dilations", dl, dl), OnnxGraph.Ints("pads", p, p, p, p),
                    OnnxGraph.Ints("output_padding", ct.OutputPadding.H, ct.OutputPadding.W));
            }
            case SharedConnection sh: // the partner's computation and weights (one initializer for both)
                return Contribution(sh.Partner, src);
            case TiedConnection { Partner: { } partner } tied: // x · W_partner (+ b): W [out, in] of the partner, not transposed
            {
                // Stryker disable once String,Equality: names only (the stem), and Flatten of an [N, F] source is the identity (>= 1)
                if (Shape(c.From).Length > 1) src = Node("Flatten", [src], c.Name + ".flat", OnnxGraph.Int("axis", 1));
                var inputs = tied.Bias is null ? new[] { src, w("weight", partner.Weight) } : [src, w("weight", partner.Weight), w("bias", tied.Bias)];
                var outShape = c.OutputShape!;
                if (outShape.Length == 1) return Node("Gemm", inputs, c.Name);
                // Stryker disable once String: names only: this stem names an intermediate value, which OnnxModelScope.Fresh keeps unique and nothing looks up; the op and attribute names here fail every model ONNX Runtime runs
                string flat = Node("Gemm", inputs, c.Name + ".flat");
                // Stryker disable once String: names only: this stem names an intermediate value, which OnnxModelScope.Fresh keeps unique and nothing looks up; the op and attribute names here fail every model ONNX Runtime runs
                return Node("Reshape", [flat, _scope.Int64(c.Name + ".shape", [outShape.Length + 1], [-1, .. outShape.Select(x => (long)x)])], c.Name);
            }
            case ComplementConnection:
                return Node("Sub", [_scope.Scalar(1f), src], c.Name);
            case SequenceInputConnection:
                // Stryker disable once all: equivalent: Flatten of an [N, F] source is the identity, and WholeSequence reshapes an unflattened [N, T, F] source to the same [N, T, F]
                return Shape(c.From).Length > 1 ? Node("Flatten", [src], c.Name + ".flat", OnnxGraph.Int("axis", 1)) : src;
            default: // identity (Check refused everything else)
                return src;
        }
    }

    private string Transform(Layer layer, string z, Dictionary<Layer, string[]> cells)
    {
        switch (layer)
        {
            case FlattenLayer:
                return Final(layer, "Flatten", [z], OnnxGraph.Int("axis", 1));
            case ReshapeLayer:
            {
                var s = Shape(layer);
                // Stryker disable once String: names only: this stem names an intermediate value, which OnnxModelScope.Fresh keeps unique and nothing looks up; the op and attribute names here fail every model ONNX Runtime runs
                return Final(layer, "Reshape", [z, _scope.Int64(layer.Name + ".shape", [s.Length + 1], [-1, .. s.Select(x => (long)x)])]);
            }
            case PoolLayer p when p.IsGlobal:
            {
                // Stryker disable once String: names only: this stem names an intermediate value, which OnnxModelScope.Fresh keeps unique and nothing looks up; the op and attribute names here fail every model ONNX Runtime runs
                string pooled = Node(p.PoolKind == PoolKind.Max ? "GlobalMaxPool" : "GlobalAveragePool", [z], layer.Name + ".pooled");
                return Final(layer, "Flatten", [pooled], OnnxGraph.Int("axis", 1));
            }
            case PoolLayer p:
            {
                long[] kernel = p.Dimensions == 1 ? [p.Size] : [p.Size, p.Size];
                long[] strides = p.Dimensions == 1 ? [p.Stride] : [p.Stride, p.Stride];
                long[] pads = Enumerable.Repeat((long)p.Padding, 2 * p.Dimensions).ToArray();
                return p.PoolKind == PoolKind.Max
                    ? Final(layer, "MaxPool", [z], OnnxGraph.Ints("kernel_shape", kernel), OnnxGraph.Ints("strides", strides), OnnxGraph.Ints("pads", pads))
                    : Final(layer, "AveragePool", [z], OnnxGraph.Ints("kernel_shape", kernel), OnnxGraph.Ints("strides", strides), OnnxGraph.Ints("pads", pads),
                        OnnxGraph.Int("count_include_pad", 1));
            }
            case DropoutLayer or GaussianNoiseLayer:
                return Final(layer, "Identity", [z]); // dropout and Gaussian noise act in training only
            case BatchNormLayer bn:
                return Final(layer, "BatchNormalization",
                    [z, _scope.Weight(layer.Name + ".gamma", bn.Gamma!), _scope.Weight(layer.Name + ".beta", bn.Beta!),
                     _scope.Weight(layer.Name + ".running_mean", bn.RunningMean!), _scope.Weight(layer.Name + ".running_var", bn.RunningVar!)],
                    OnnxGraph.Float("epsilon", (float)bn.Epsilon));
            case RecurrentCellLayer r:
                return Cell(r, z, cells);
        }
        // a plain layer: y = act(z + b)
        if (layer.Bias is { } bias)
        {
            var s = layer.InputShape!;
            int[] dims = new int[s.Length];
            Array.Fill(dims, 1);
            dims[0] = s[0];
            // Stryker disable once String: names only: this stem names an intermediate value, which OnnxModelScope.Fresh keeps unique and nothing looks up; the op and attribute names here fail every model ONNX Runtime runs
            z = Node("Add", [z, _scope.Weight(layer.Name + ".bias", bias, dims)], layer.Name + ".biased");
        }
        var (op, attributes) = ActivationOp(layer.Activation)!.Value;
        return Final(layer, op, [z], attributes);
    }
}
