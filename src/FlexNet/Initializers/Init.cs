using FlexNet.Tensors;

namespace FlexNet.Initializers;

/// <summary>
/// Weight initialisers (Keras / PyTorch / theanets), each returning a new tensor that does not require gradients
/// (wrap with <see cref="Tensor.RequireGrad"/> or copy into a parameter with <see cref="Tensor.CopyFrom"/>).
/// Shapes use PyTorch's layout: [out, in, k...]; fan_in = in·Πk, fan_out = out·Πk (a vector has fan_in = fan_out = its length).
/// Every random initialiser takes a <see cref="RandomGenerator"/> (null: <see cref="RandomGenerator.Default"/>, whose
/// stream advances, so two calls never give identical weights by accident).
/// </summary>
public static class Init
{
    /// <summary>All zeros.</summary>
    /// <param name="shape">Shape.</param>
    /// <param name="dtype">Float32 or Float64.</param>
    /// <returns>The tensor.</returns>
    public static Tensor Zeros(int[] shape, DType dtype = DType.Float32) => Tensor.Zeros(shape, dtype);

    /// <summary>All ones.</summary>
    /// <param name="shape">Shape.</param>
    /// <param name="dtype">Float32 or Float64.</param>
    /// <returns>The tensor.</returns>
    public static Tensor Ones(int[] shape, DType dtype = DType.Float32) => Tensor.Ones(shape, dtype);

    /// <summary>Every element = <paramref name="value"/>.</summary>
    /// <param name="shape">Shape.</param>
    /// <param name="value">The constant.</param>
    /// <param name="dtype">Float32 or Float64.</param>
    /// <returns>The tensor.</returns>
    public static Tensor Constant(int[] shape, double value, DType dtype = DType.Float32) => Tensor.Full(shape, value, dtype);

    /// <summary>W ~ N(mean, std²).</summary>
    /// <param name="shape">Shape.</param>
    /// <param name="mean">Mean.</param>
    /// <param name="std">Standard deviation (≥ 0).</param>
    /// <param name="rng">Generator.</param>
    /// <param name="dtype">Float32 or Float64.</param>
    /// <returns>The tensor.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="std"/> is negative.</exception>
    public static Tensor Normal(int[] shape, double mean = 0, double std = 1, RandomGenerator? rng = null, DType dtype = DType.Float32)
    {
        if (!(std >= 0)) throw new ArgumentOutOfRangeException(nameof(std), $"Init.Normal: std must be >= 0. Received: {std}");
        return Tensor.Normal(shape, mean, std, rng ?? RandomGenerator.Default, dtype);
    }

    /// <summary>W ~ U(low, high).</summary>
    /// <param name="shape">Shape.</param>
    /// <param name="low">Lower bound.</param>
    /// <param name="high">Upper bound (≥ low).</param>
    /// <param name="rng">Generator.</param>
    /// <param name="dtype">Float32 or Float64.</param>
    /// <returns>The tensor.</returns>
    /// <exception cref="ArgumentException"><paramref name="high"/> is below <paramref name="low"/>.</exception>
    public static Tensor Uniform(int[] shape, double low, double high, RandomGenerator? rng = null, DType dtype = DType.Float32)
    {
        if (!(high >= low)) throw new ArgumentException($"Init.Uniform: high ({high}) must be >= low ({low}).");
        return Tensor.Uniform(shape, low, high, rng ?? RandomGenerator.Default, dtype);
    }

    /// <summary>PyTorch's default for recurrent layers: W ~ U(−1/√H, 1/√H).</summary>
    /// <param name="shape">Shape.</param>
    /// <param name="hiddenSize">H (positive).</param>
    /// <param name="rng">Generator.</param>
    /// <param name="dtype">Float32 or Float64.</param>
    /// <returns>The tensor.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="hiddenSize"/> is not positive.</exception>
    public static Tensor TorchRecurrentDefault(int[] shape, int hiddenSize, RandomGenerator? rng = null, DType dtype = DType.Float32)
    {
        if (hiddenSize <= 0) throw new ArgumentOutOfRangeException(nameof(hiddenSize), $"Init.TorchRecurrentDefault: hiddenSize must be positive. Received: {hiddenSize}");
        double k = 1 / Math.Sqrt(hiddenSize);
        return Uniform(shape, -k, k, rng, dtype);
    }

    /// <summary>(fan_in, fan_out) of a [out, in, k...] shape.</summary>
    /// <param name="shape">Shape of rank ≥ 1.</param>
    /// <returns>The fans.</returns>
    /// <exception cref="ShapeMismatchException">The shape has rank 0, a negative dimension, or a fan above
    /// <see cref="int.MaxValue"/>.</exception>
    public static (int FanIn, int FanOut) Fans(ReadOnlySpan<int> shape)
    {
        if (shape.Length == 0) throw new ShapeMismatchException("Init.Fans: a scalar shape [] has no fan-in or fan-out.");
        for (int d = 0; d < shape.Length; d++)
            if (shape[d] < 0)
                throw new ShapeMismatchException($"Init.Fans: shape {ShapeUtil.Format(shape)} has a negative dimension.");
        if (shape.Length == 1) return (shape[0], shape[0]);
        // in long, saturated at 2^31 (a later zero dimension still gives 0): each factor is below 2^31, so no
        // product wraps
        const long Saturated = (long)int.MaxValue + 1;
        long receptive = 1;
        for (int d = 2; d < shape.Length; d++) receptive = Math.Min(receptive * shape[d], Saturated);
        long fanIn = shape[1] * receptive, fanOut = shape[0] * receptive;
        if (receptive > int.MaxValue || fanIn > int.MaxValue || fanOut > int.MaxValue)
            throw new ShapeMismatchException($"Init.Fans: shape {ShapeUtil.Format(shape)} has a fan above {int.MaxValue}.");
        return ((int)fanIn, (int)fanOut);
    }

    /// <summary>Glorot / Xavier uniform: U(−a, a), a = gain·√(6 / (fan_in + fan_out)).</summary>
    /// <param name="shape">Shape [out, in, k...].</param>
    /// <param name="gain">Scale factor.</param>
    /// <param name="rng">Generator.</param>
    /// <param name="dtype">Float32 or Float64.</param>
    /// <returns>The tensor.</returns>
    public static Tensor GlorotUniform(int[] shape, double gain = 1, RandomGenerator? rng = null, DType dtype = DType.Float32)
    {
        var (fi, fo) = Fans(shape);
        double a = gain * Math.Sqrt(6.0 / (fi + fo));
        return Uniform(shape, -a, a, rng, dtype);
    }

    /// <summary>Glorot / Xavier normal: N(0, σ²), σ = gain·√(2 / (fan_in + fan_out)) (PyTorch's untruncated form).</summary>
    /// <param name="shape">Shape [out, in, k...].</param>
    /// <param name="gain">Scale factor.</param>
    /// <param name="rng">Generator.</param>
    /// <param name="dtype">Float32 or Float64.</param>
    /// <returns>The tensor.</returns>
    public static Tensor GlorotNormal(int[] shape, double gain = 1, RandomGenerator? rng = null, DType dtype = DType.Float32)
    {
        var (fi, fo) = Fans(shape);
        return Normal(shape, 0, gain * Math.Sqrt(2.0 / (fi + fo)), rng, dtype);
    }

    /// <summary>He / Kaiming uniform: U(−b, b), b = gain·√(3 / fan) (fan_in by default; ReLU gain √2 gives √(6 / fan_in)).</summary>
    /// <param name="shape">Shape [out, in, k...].</param>
    /// <param name="rng">Generator.</param>
    /// <param name="dtype">Float32 or Float64.</param>
    /// <param name="gain">Nonlinearity gain (√2 for ReLU, 1 for linear/SELU, 5/3 for tanh).</param>
    /// <param name="fanOut">Use fan_out instead of fan_in (PyTorch mode='fan_out').</param>
    /// <returns>The tensor.</returns>
    public static Tensor HeUniform(int[] shape, RandomGenerator? rng = null, DType dtype = DType.Float32,
                                   double gain = 1.4142135623730951, bool fanOut = false)
    {
        var (fi, fo) = Fans(shape);
        double b = gain * Math.Sqrt(3.0 / (fanOut ? fo : fi));
        return Uniform(shape, -b, b, rng, dtype);
    }

    /// <summary>He / Kaiming normal: N(0, σ²), σ = gain / √fan (fan_in by default; ReLU gain √2 gives √(2 / fan_in)).</summary>
    /// <param name="shape">Shape [out, in, k...].</param>
    /// <param name="rng">Generator.</param>
    /// <param name="dtype">Float32 or Float64.</param>
    /// <param name="gain">Nonlinearity gain (√2 for ReLU).</param>
    /// <param name="fanOut">Use fan_out instead of fan_in.</param>
    /// <returns>The tensor.</returns>
    public static Tensor HeNormal(int[] shape, RandomGenerator? rng = null, DType dtype = DType.Float32,
                                  double gain = 1.4142135623730951, bool fanOut = false)
    {
        var (fi, fo) = Fans(shape);
        return Normal(shape, 0, gain / Math.Sqrt(fanOut ? fo : fi), rng, dtype);
    }

    /// <summary>Alias of <see cref="GlorotUniform"/> (PyTorch's name).</summary>
    /// <param name="shape">Shape [out, in, k...].</param>
    /// <param name="gain">Scale factor.</param>
    /// <param name="rng">Generator.</param>
    /// <param name="dtype">Float32 or Float64.</param>
    /// <returns>The tensor.</returns>
    public static Tensor XavierUniform(int[] shape, double gain = 1, RandomGenerator? rng = null, DType dtype = DType.Float32) =>
        GlorotUniform(shape, gain, rng, dtype);

    /// <summary>Alias of <see cref="GlorotNormal"/> (PyTorch's name).</summary>
    /// <param name="shape">Shape [out, in, k...].</param>
    /// <param name="gain">Scale factor.</param>
    /// <param name="rng">Generator.</param>
    /// <param name="dtype">Float32 or Float64.</param>
    /// <returns>The tensor.</returns>
    public static Tensor XavierNormal(int[] shape, double gain = 1, RandomGenerator? rng = null, DType dtype = DType.Float32) =>
        GlorotNormal(shape, gain, rng, dtype);

    /// <summary>Alias of <see cref="HeUniform"/> (PyTorch's name).</summary>
    /// <param name="shape">Shape [out, in, k...].</param>
    /// <param name="rng">Generator.</param>
    /// <param name="dtype">Float32 or Float64.</param>
    /// <param name="gain">Nonlinearity gain.</param>
    /// <param name="fanOut">Use fan_out instead of fan_in.</param>
    /// <returns>The tensor.</returns>
    public static Tensor KaimingUniform(int[] shape, RandomGenerator? rng = null, DType dtype = DType.Float32,
                                        double gain = 1.4142135623730951, bool fanOut = false) =>
        HeUniform(shape, rng, dtype, gain, fanOut);

    /// <summary>Alias of <see cref="HeNormal"/> (PyTorch's name).</summary>
    /// <param name="shape">Shape [out, in, k...].</param>
    /// <param name="rng">Generator.</param>
    /// <param name="dtype">Float32 or Float64.</param>
    /// <param name="gain">Nonlinearity gain.</param>
    /// <param name="fanOut">Use fan_out instead of fan_in.</param>
    /// <returns>The tensor.</returns>
    public static Tensor KaimingNormal(int[] shape, RandomGenerator? rng = null, DType dtype = DType.Float32,
                                       double gain = 1.4142135623730951, bool fanOut = false) =>
        HeNormal(shape, rng, dtype, gain, fanOut);

    /// <summary>Rectangular identity gain·I (ones on the leading diagonal of a matrix).</summary>
    /// <param name="shape">A matrix shape [rows, cols].</param>
    /// <param name="gain">Diagonal value.</param>
    /// <param name="dtype">Float32 or Float64.</param>
    /// <returns>The tensor.</returns>
    /// <exception cref="ShapeMismatchException">The shape is not rank 2.</exception>
    public static Tensor Identity(int[] shape, double gain = 1, DType dtype = DType.Float32)
    {
        if (shape.Length != 2) throw new ShapeMismatchException($"Init.Identity needs a matrix shape; got {ShapeUtil.Format(shape)}.");
        var v = new double[shape[0] * shape[1]];
        for (int i = 0; i < Math.Min(shape[0], shape[1]); i++) v[i * shape[1] + i] = gain;
        return Tensor.FromArray(v, shape).To(dtype);
    }

    /// <summary>(Semi-)orthogonal matrix (Saxe et al.): the Q factor, with positive diag(R), of a Gaussian matrix,
    /// times gain. For [rows, cols] with rows ≥ cols the columns are orthonormal (QᵀQ = I), else the rows (QQᵀ = I);
    /// higher ranks are flattened to [shape[0], Π rest]. The Gaussian matrix is [max, min] of the flattened shape,
    /// drawn column by column from <paramref name="rng"/>; a wide shape gets Qᵀ. So a seed fixes the weights.</summary>
    /// <param name="shape">Shape of rank ≥ 2.</param>
    /// <param name="gain">Scale factor.</param>
    /// <param name="rng">Generator.</param>
    /// <param name="dtype">Float32 or Float64.</param>
    /// <returns>The tensor.</returns>
    /// <exception cref="ShapeMismatchException">Rank below 2.</exception>
    public static Tensor Orthogonal(int[] shape, double gain = 1, RandomGenerator? rng = null, DType dtype = DType.Float32)
    {
        if (shape.Length < 2) throw new ShapeMismatchException($"Init.Orthogonal needs rank >= 2; got {ShapeUtil.Format(shape)}.");
        rng ??= RandomGenerator.Default;
        int rows = shape[0], cols = ShapeUtil.Product(shape) / Math.Max(rows, 1);
        bool wide = rows < cols;
        int tall = wide ? cols : rows, narrow = wide ? rows : cols;
        // a [tall, narrow], column major: a[j][i]
        var a = new double[narrow][];
        for (int j = 0; j < narrow; j++)
        {
            a[j] = new double[tall];
            for (int i = 0; i < tall; i++) a[j][i] = rng.NextNormal();
        }
        Linalg.GramSchmidt(a);
        var v = new double[rows * cols];
        for (int j = 0; j < narrow; j++)
            for (int i = 0; i < tall; i++)
            {
                if (wide) v[j * cols + i] = gain * a[j][i];
                else v[i * cols + j] = gain * a[j][i];
            }
        return Tensor.FromArray(v, shape).To(dtype);
    }

    /// <summary>The largest singular value ‖W‖₂ of a matrix (power iteration on WᵀW in double precision).</summary>
    /// <param name="matrix">A rank-2 tensor.</param>
    /// <returns>The spectral norm.</returns>
    /// <exception cref="ShapeMismatchException">Not rank 2.</exception>
    public static double SpectralNorm(Tensor matrix)
    {
        if (matrix.Rank != 2) throw new ShapeMismatchException($"Init.SpectralNorm needs a matrix; got {ShapeUtil.Format(matrix.Shape)}.");
        return Linalg.SpectralNorm(matrix.ToDoubleArray(), matrix.Shape[0], matrix.Shape[1]);
    }

    /// <summary>theanets' radius rule: W [k·n, n] (k stacked square blocks, as a recurrent weight_hh) with each n×n
    /// block rescaled so its spectral norm equals <paramref name="radius"/>. Returns a new tensor.</summary>
    /// <param name="weight">Matrix [k·n, n].</param>
    /// <param name="radius">Target spectral norm of each block (positive).</param>
    /// <returns>The rescaled matrix.</returns>
    /// <exception cref="ShapeMismatchException">Rows are not a multiple of columns.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="radius"/> is not positive.</exception>
    public static Tensor ScaleBlocksToSpectralNorm(Tensor weight, double radius)
    {
        if (weight.Rank != 2 || weight.Shape[1] == 0 || weight.Shape[0] % weight.Shape[1] != 0)
            throw new ShapeMismatchException($"Init.ScaleBlocksToSpectralNorm: {ShapeUtil.Format(weight.Shape)} is not [k·n, n] (stacked square blocks).");
        if (!(radius > 0)) throw new ArgumentOutOfRangeException(nameof(radius), $"Init.ScaleBlocksToSpectralNorm: radius must be positive. Received: {radius}");
        int n = weight.Shape[1];
        var v = weight.ToDoubleArray();
        for (int start = 0; start < v.Length; start += n * n)
        {
            var block = v.AsSpan(start, n * n);
            double norm = Linalg.SpectralNorm(block.ToArray(), n, n);
            if (norm == 0) continue;
            for (int i = 0; i < block.Length; i++) block[i] *= radius / norm;
        }
        return Tensor.FromArray(v, weight.ShapeArray).To(weight.DType);
    }

    /// <summary>theanets' add_weights for a matrix [out, in] (= theanets' (nin, nout) transposed): diagonal d gives d·I;
    /// otherwise N(mean, std²) with std = 1/√(in + out) by default, then a sparsity mask that zeroes a random fraction
    /// but keeps the leading min(in, out) diagonal (one uniform draw per off-diagonal entry, row by row, after the
    /// rows·cols normal draws), then (radius &gt; 0 and out a multiple of in) every square block
    /// rescaled to spectral norm = radius.</summary>
    /// <param name="shape">Matrix shape [out, in].</param>
    /// <param name="options">mean / std / sparsity / diagonal / radius.</param>
    /// <param name="rng">Generator.</param>
    /// <param name="dtype">Float32 or Float64.</param>
    /// <returns>The tensor.</returns>
    /// <exception cref="ShapeMismatchException">The shape is not rank 2.</exception>
    public static Tensor Theanets(int[] shape, TheanetsInit options, RandomGenerator? rng = null, DType dtype = DType.Float32)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (shape.Length != 2) throw new ShapeMismatchException($"Init.Theanets needs a matrix shape [out, in]; got {ShapeUtil.Format(shape)}.");
        if (options.Diagonal is { } d) return Identity(shape, d, dtype);
        rng ??= RandomGenerator.Default;
        int rows = shape[0], cols = shape[1];
        double std = options.Std ?? 1 / Math.Sqrt(rows + cols);
        var v = new double[rows * cols];
        for (int i = 0; i < v.Length; i++) v[i] = options.Mean + std * rng.NextNormal();
        if (options.Sparsity > 0)
        {
            // the diagonal entries (r == c) are the leading min(in, out) diagonal: they are kept and draw nothing
            for (int r = 0; r < rows; r++)
                for (int c = 0; c < cols; c++)
                {
                    if (r == c) continue;
                    if (rng.NextDouble() < options.Sparsity) v[r * cols + c] = 0;
                }
        }
        var w = Tensor.FromArray(v, shape);
        if (options.Radius > 0 && cols > 0 && rows % cols == 0) w = ScaleBlocksToSpectralNorm(w, options.Radius);
        return w.To(dtype);
    }
}
