using FlexNet.Tensors;

namespace FlexNet.Metrics;

/// <summary>
/// A monitoring metric computed without gradients. <see cref="Evaluate"/> returns a (sum, count) pair for one
/// batch; the trainer adds them over an epoch and reports <c>Σ sum / Σ count</c>, so the epoch value equals the
/// metric over the whole data set regardless of batch size. Outputs are <c>[..., C]</c> (every leading axis a
/// sample axis, e.g. <c>[N, C]</c> or <c>[T, N, C]</c>).
/// </summary>
public abstract class Metric
{
    /// <summary>Name in the history and progress line, e.g. <c>acc</c>.</summary>
    public abstract string Name { get; }

    /// <summary>True when larger is better (for early stopping on this metric).</summary>
    public virtual bool HigherIsBetter => false;

    /// <summary>The batch contribution.</summary>
    /// <param name="output">Model output.</param>
    /// <param name="target">Target.</param>
    /// <returns>(sum of per-sample values, number of samples).</returns>
    public abstract (double Sum, double Count) Evaluate(Tensor output, Tensor target);

    /// <summary>Every metric name <see cref="Create"/> accepts: FlexNet's (<c>acc</c>, <c>topK</c>, <c>mse</c>, <c>mae</c>) and
    /// Keras' (<c>accuracy</c>, <c>sparse_categorical_accuracy</c>, <c>categorical_accuracy</c>, <c>binary_accuracy</c>,
    /// <c>top_k_categorical_accuracy</c> and <c>sparse_top_k_categorical_accuracy</c> (k = 5, as in Keras),
    /// <c>mean_squared_error</c>, <c>mean_absolute_error</c>).</summary>
    public static IReadOnlyList<string> KnownNames { get; } =
    [
        "acc", "accuracy", "sparse_categorical_accuracy", "categorical_accuracy", "binary_accuracy", "topK (e.g. top5)",
        "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy", "mse", "mean_squared_error", "mae", "mean_absolute_error",
    ];

    /// <summary>Creates a metric by name (case-insensitive; the names of <see cref="KnownNames"/>). The accuracy names
    /// all give <see cref="Accuracy"/>, which takes integer labels or one-hot targets and treats a one-column output as
    /// binary.</summary>
    /// <param name="name">Name (case-insensitive).</param>
    /// <returns>The metric.</returns>
    /// <exception cref="ArgumentException">An unknown name (the message lists the known ones).</exception>
    public static Metric Create(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        var n = name.Trim().ToLowerInvariant();
        if (n is "acc" or "accuracy" or "sparse_categorical_accuracy" or "categorical_accuracy" or "binary_accuracy") return new Accuracy();
        if (n is "mse" or "mean_squared_error") return new MeanSquaredErrorMetric();
        if (n is "mae" or "mean_absolute_error") return new MeanAbsoluteErrorMetric();
        if (n is "top_k_categorical_accuracy" or "sparse_top_k_categorical_accuracy") return new TopKAccuracy(5);
        if (n.StartsWith("top", StringComparison.Ordinal) && int.TryParse(n.AsSpan(3), out int k) && k > 0) return new TopKAccuracy(k);
        throw new ArgumentException($"Unknown metric '{name}' (known: {string.Join(", ", KnownNames)}).", nameof(name));
    }

    /// <summary>Output values as a [rows, C] double matrix (rank ≤ 1 outputs become one column).</summary>
    /// <exception cref="ShapeMismatchException">The last axis is empty (no classes).</exception>
    private protected static (double[] Values, int Rows, int Cols) Matrix(Tensor output, string metric)
    {
        var v = output.ToDoubleArray();
        int cols = output.Rank == 0 ? 1 : output.Rank == 1 ? 1 : output.ShapeArray[^1];
        if (cols == 0) throw new ShapeMismatchException($"{metric}: output {ShapeUtil.Format(output.Shape)} has no classes (its last axis is empty).");
        return (v, v.Length / cols, cols);
    }
}

/// <summary>
/// Classification accuracy: fraction of samples whose arg-max class equals the label. Targets: Int32 labels
/// <c>[...]</c>, or one-hot/probabilities <c>[..., C]</c> (arg-max taken). A single-column output (<c>[N]</c> or
/// <c>[N, 1]</c>) is binary: predicted class = <c>output &gt; Threshold</c> (0 for logits).
/// </summary>
public sealed class Accuracy : Metric
{
    /// <inheritdoc/>
    public override string Name => "acc";

    /// <inheritdoc/>
    public override bool HigherIsBetter => true;

    /// <summary>Decision threshold of binary outputs (0 for logits, 0.5 for probabilities).</summary>
    public double Threshold { get; init; }

    /// <inheritdoc/>
    public override (double Sum, double Count) Evaluate(Tensor output, Tensor target)
    {
        var (o, rows, c) = Matrix(output, Name);
        var labels = TopKAccuracy.Labels(target, rows, c, Name, binary: c == 1);
        double hits = 0;
        for (int r = 0; r < rows; r++)
        {
            int pred;
            if (c == 1) pred = o[r] > Threshold ? 1 : 0;
            else
            {
                pred = 0;
                for (int j = 1; j < c; j++) if (o[r * c + j] > o[r * c + pred]) pred = j;
            }
            if (pred == labels[r]) hits++;
        }
        return (hits, rows);
    }
}

/// <summary>Top-k accuracy: a sample counts when its label is among the k largest outputs (ties: earlier classes first).
/// Unlike <see cref="Accuracy"/>, a one-column output is one class, not binary: its only label is 0.</summary>
public sealed class TopKAccuracy : Metric
{
    /// <summary>Creates the metric.</summary>
    /// <param name="k">k ≥ 1.</param>
    public TopKAccuracy(int k)
    {
        if (k < 1) throw new ArgumentOutOfRangeException(nameof(k), $"TopKAccuracy: k must be >= 1; got {k}.");
        K = k;
    }

    /// <summary>k.</summary>
    public int K { get; }

    /// <inheritdoc/>
    public override string Name => "top" + K;

    /// <inheritdoc/>
    public override bool HigherIsBetter => true;

    /// <inheritdoc/>
    public override (double Sum, double Count) Evaluate(Tensor output, Tensor target)
    {
        var (o, rows, c) = Matrix(output, Name);
        var labels = Labels(target, rows, c, Name, binary: false);
        double hits = 0;
        for (int r = 0; r < rows; r++)
        {
            double v = o[r * c + labels[r]];
            int better = 0;
            for (int j = 0; j < c; j++)
            {
                double u = o[r * c + j];
                if (u > v || (u == v && j < labels[r])) better++;
            }
            if (better < K) hits++;
        }
        return (hits, rows);
    }

    /// <summary>One class label per output row: Int32 labels as they are (checked against [0, C), or [0, 2) for
    /// <paramref name="binary"/> outputs), float targets by arg-max over C (first on ties), or, for
    /// <paramref name="binary"/> outputs, by <c>t &gt; 0.5</c>.</summary>
    internal static int[] Labels(Tensor target, int rows, int c, string metric, bool binary)
    {
        if (target.DType == DType.Int32)
        {
            var l = target.ToInt32Array();
            if (l.Length != rows)
                throw new ShapeMismatchException($"{metric}: {l.Length} labels for {rows} output rows (target {ShapeUtil.Format(target.Shape)}).");
            int max = binary ? 2 : c;
            for (int i = 0; i < l.Length; i++)
                if ((uint)l[i] >= (uint)max) throw new ArgumentOutOfRangeException(nameof(target), $"{metric}: label {l[i]} at sample {i} is outside [0, {max}).");
            return l;
        }
        var t = target.ToDoubleArray();
        var r = new int[rows];
        if (binary)
        {
            if (t.Length != rows) throw new ShapeMismatchException($"{metric}: target {ShapeUtil.Format(target.Shape)} does not match {rows} binary outputs.");
            for (int i = 0; i < rows; i++) r[i] = t[i] > 0.5 ? 1 : 0;
            return r;
        }
        if (t.Length != rows * c) throw new ShapeMismatchException($"{metric}: target {ShapeUtil.Format(target.Shape)} does not match {rows} rows of {c} classes.");
        for (int i = 0; i < rows; i++)
        {
            int best = 0;
            for (int j = 1; j < c; j++) if (t[i * c + j] > t[i * c + best]) best = j;
            r[i] = best;
        }
        return r;
    }
}

/// <summary>Mean squared error over all elements: Σ(o − t)² / count.</summary>
public sealed class MeanSquaredErrorMetric : Metric
{
    /// <inheritdoc/>
    public override string Name => "mse";

    /// <inheritdoc/>
    public override (double Sum, double Count) Evaluate(Tensor output, Tensor target)
    {
        var o = output.ToDoubleArray();
        var t = target.ToDoubleArray();
        if (o.Length != t.Length) throw new ShapeMismatchException($"mse: output {ShapeUtil.Format(output.Shape)} vs target {ShapeUtil.Format(target.Shape)}.");
        double s = 0;
        for (int i = 0; i < o.Length; i++) s += (o[i] - t[i]) * (o[i] - t[i]);
        return (s, o.Length);
    }
}

/// <summary>Mean absolute error over all elements: Σ|o − t| / count.</summary>
public sealed class MeanAbsoluteErrorMetric : Metric
{
    /// <inheritdoc/>
    public override string Name => "mae";

    /// <inheritdoc/>
    public override (double Sum, double Count) Evaluate(Tensor output, Tensor target)
    {
        var o = output.ToDoubleArray();
        var t = target.ToDoubleArray();
        if (o.Length != t.Length) throw new ShapeMismatchException($"mae: output {ShapeUtil.Format(output.Shape)} vs target {ShapeUtil.Format(target.Shape)}.");
        double s = 0;
        for (int i = 0; i < o.Length; i++) s += Math.Abs(o[i] - t[i]);
        return (s, o.Length);
    }
}
