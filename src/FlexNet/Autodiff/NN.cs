using FlexNet.Autodiff.Ops;
using FlexNet.Tensors;

namespace FlexNet.Autodiff;

/// <summary>
/// Differentiable neural-network functions (the counterpart of <c>torch.nn.functional</c>): products,
/// softmax and cross-entropy, dropout, embedding lookup, convolution and pooling. All accept float32 or
/// float64 tensors in PyTorch layouts and record themselves for autodiff.
/// </summary>
public static partial class NN
{
    /// <summary>Matrix product. [M,K]·[K,N] → [M,N]; batched [...,M,K]·[...,K,N] → [...,M,N] with broadcast batch dims;
    /// a rank-1 operand acts as a row (left) or column (right) vector.</summary>
    /// <param name="a">Left operand.</param>
    /// <param name="b">Right operand.</param>
    /// <returns>The product.</returns>
    public static Tensor MatMul(Tensor a, Tensor b) => Autodiff.Ops.MatMul.Apply(a, b);

    /// <summary>Affine map y = x·Wᵀ + b (PyTorch layout). x [..., in], W [out, in], b [out] → y [..., out].</summary>
    /// <param name="x">Input.</param>
    /// <param name="weight">Weight [out, in].</param>
    /// <param name="bias">Optional bias [out].</param>
    /// <returns>The affine transform.</returns>
    public static Tensor Linear(Tensor x, Tensor weight, Tensor? bias = null)
    {
        if (weight.Rank != 2 || x.Rank < 1 || x.Shape[^1] != weight.Shape[1])
            throw new ShapeMismatchException($"Linear: input {ShapeUtil.Format(x.Shape)} does not fit weight {ShapeUtil.Format(weight.Shape)} ([out, in] with in = last input dimension).");
        var y = Autodiff.Ops.MatMul.Apply(x, weight.T);
        return bias is null ? y : y + bias;
    }

    /// <summary>softmax(x)ᵢ = exp(xᵢ − max x) / Σⱼ exp(xⱼ − max x) along <paramref name="axis"/>.</summary>
    /// <param name="x">Logits.</param>
    /// <param name="axis">Axis to normalise (default last).</param>
    /// <returns>Probabilities of x's shape.</returns>
    public static Tensor Softmax(Tensor x, int axis = -1) => Autodiff.Ops.Softmax.Apply(x, axis, log: false);

    /// <summary>log softmax(x) = x − max x − log Σ exp(x − max x) along <paramref name="axis"/>.</summary>
    /// <param name="x">Logits.</param>
    /// <param name="axis">Axis to normalise (default last).</param>
    /// <returns>Log-probabilities of x's shape.</returns>
    public static Tensor LogSoftmax(Tensor x, int axis = -1) => Autodiff.Ops.Softmax.Apply(x, axis, log: true);

    /// <summary>Softmax cross-entropy from logits with integer labels: L = (1/N) Σᵢ −log softmax(xᵢ)[yᵢ]
    /// (or the sum when <paramref name="mean"/> is false). logits [N, C], labels Int32 [N].</summary>
    /// <param name="logits">Unnormalised scores [N, C].</param>
    /// <param name="labels">Class indices in [0, C), Int32 (other dtypes are converted).</param>
    /// <param name="mean">Average over the batch (true) or sum.</param>
    /// <returns>A scalar loss.</returns>
    public static Tensor CrossEntropy(Tensor logits, Tensor labels, bool mean = true) =>
        Autodiff.Ops.Softmax.CrossEntropy(logits, labels, mean);

    /// <summary>Inverted dropout: each element is zeroed with probability p and survivors are scaled by 1/(1−p);
    /// the identity when <paramref name="training"/> is false or p = 0.</summary>
    /// <param name="x">Input.</param>
    /// <param name="p">Drop probability in [0, 1).</param>
    /// <param name="training">Apply only in training.</param>
    /// <param name="rng">Generator for the mask (default <see cref="RandomGenerator.Default"/>).</param>
    /// <returns>The masked input.</returns>
    public static Tensor Dropout(Tensor x, double p, bool training = true, RandomGenerator? rng = null)
    {
        if (p < 0 || p >= 1) throw new ArgumentOutOfRangeException(nameof(p), $"Dropout rate must be in [0, 1). Received: {p}");
        if (!training || p == 0) return x;
        return Indexing.Dropout(x, p, rng ?? RandomGenerator.Default);
    }

    /// <summary>Embedding lookup (gather of rows): out[..., :] = weight[indices[...], :]. weight [V, D], indices of any shape → [..., D].</summary>
    /// <param name="weight">Table [V, D].</param>
    /// <param name="indices">Row indices in [0, V).</param>
    /// <returns>The gathered rows.</returns>
    public static Tensor Embedding(Tensor weight, Tensor indices) => Indexing.Gather(weight, indices);
}
