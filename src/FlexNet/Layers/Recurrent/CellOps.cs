using FlexNet.Tensors;
using FlexNet.Autodiff;

namespace FlexNet.Layers.Recurrent;

/// <summary>Helpers shared by the cells: parameter creation, argument checks, projections, activations.</summary>
internal static class CellOps
{
    /// <summary>A trainable parameter drawn from U(−bound, bound) (PyTorch's recurrent default with bound = 1/√H).</summary>
    internal static Tensor Uniform(string name, int[] shape, double bound, RandomGenerator rng, DType dtype)
    {
        var t = Tensor.Uniform(shape, -bound, bound, rng, dtype);
        t.Name = name;
        return t.RequireGrad();
    }

    /// <summary>A trainable parameter of zeros (FlexNet's default for biases of the theanets cells).</summary>
    internal static Tensor Zeros(string name, int[] shape, DType dtype)
    {
        var t = Tensor.Zeros(shape, dtype);
        t.Name = name;
        return t.RequireGrad();
    }

    internal static double TorchBound(int hiddenSize) => 1.0 / Math.Sqrt(hiddenSize);

    internal static void CheckSizes(string cell, int inputSize, int hiddenSize, DType dtype)
    {
        if (inputSize <= 0) throw new ArgumentOutOfRangeException(nameof(inputSize), $"{cell}: inputSize must be positive. Received: {inputSize}");
        if (hiddenSize <= 0) throw new ArgumentOutOfRangeException(nameof(hiddenSize), $"{cell}: hiddenSize must be positive. Received: {hiddenSize}");
        if (!dtype.IsFloatingPoint()) throw new ArgumentException($"{cell}: dtype must be Float32 or Float64. Received: {dtype}");
    }

    /// <summary>x [..., I]·Wᵀ (+ b) as one GEMM over all leading dimensions.</summary>
    internal static Tensor Project(string cell, Tensor x, Tensor weight, Tensor? bias)
    {
        int inSize = weight.Shape[1];
        if (x.Rank < 1 || x.Shape[^1] != inSize)
            throw new ShapeMismatchException($"{cell}: input of shape {ShapeUtil.Format(x.Shape)} does not end in the input size {inSize}.");
        if (x.DType != weight.DType)
            throw new ArgumentException($"{cell}: input dtype {x.DType} differs from the parameters' dtype {weight.DType}; convert with To({weight.DType}).");
        Tensor y;
        if (x.Rank == 2) y = NN.MatMul(x, weight.T);
        else
        {
            var outShape = x.ShapeArray.ToArray();
            outShape[^1] = weight.Shape[0];
            y = NN.MatMul(x.Reshape(-1, inSize), weight.T).Reshape(outShape);
        }
        return bias is null ? y : y + bias;
    }

    /// <summary>Checks a state tensor against its expected shape [N, size].</summary>
    internal static void CheckState(string cell, CellState state, string name, int batch, int size)
    {
        var t = state[name];
        if (t.Rank != 2 || t.Shape[0] != batch || t.Shape[1] != size)
            throw new ShapeMismatchException($"{cell}: state '{name}' has shape {ShapeUtil.Format(t.Shape)}; expected [{batch}, {size}].");
    }

    /// <summary>Checks a projected step input [N, P].</summary>
    internal static int CheckProjected(string cell, Tensor p, int width)
    {
        if (p.Rank != 2 || p.Shape[1] != width)
            throw new ShapeMismatchException($"{cell}: projected input has shape {ShapeUtil.Format(p.Shape)}; expected [N, {width}] (ProjectInput of one step).");
        return p.Shape[0];
    }

    internal static Tensor Act(Tensor x, RecurrentActivation act) => act switch
    {
        RecurrentActivation.Tanh => x.Tanh(),
        RecurrentActivation.Relu => x.Relu(),
        RecurrentActivation.Sigmoid => x.Sigmoid(),
        _ => x,
    };

    /// <summary>h·Wᵀ for W [out, H] in PyTorch layout, with dW computed in W's own layout (<see cref="RecurrentProduct"/>).</summary>
    internal static Tensor Rec(Tensor h, Tensor weight) => RecurrentProduct.Apply(h, weight);

    /// <summary>(1 − z)⊙a + z⊙b computed as a + z⊙(b − a).</summary>
    internal static Tensor Lerp(Tensor a, Tensor b, Tensor z) => a + z * (b - a);

    internal static CellState ZeroState(int batch, DType dtype, int time, params (string Name, int Size)[] parts)
    {
        var entries = new (string, Tensor)[parts.Length];
        for (int i = 0; i < parts.Length; i++) entries[i] = (parts[i].Name, Tensor.Zeros([batch, parts[i].Size], dtype));
        return new CellState(time, entries);
    }

    /// <summary>A fixed (not learned) rate vector for <see cref="RateMode.Uniform"/> or <see cref="RateMode.Log"/>.</summary>
    internal static Tensor FixedRate(RateMode mode, int size, RandomGenerator rng, DType dtype)
    {
        var v = new double[size];
        for (int i = 0; i < size; i++)
        {
            double u = rng.NextDouble();
            v[i] = mode == RateMode.Uniform ? 1e-4 + u * (1 - 2e-4) : Math.Exp(-6 + u * (6 - 1e-4));
        }
        return Tensor.FromArray(v, size).To(dtype);
    }

    /// <summary>Concatenates parameter blocks along axis 0 (a recorded op, so gradients reach each block).</summary>
    internal static Tensor Rows(params Tensor[] blocks) => Tensor.Concat(blocks, 0);
}
