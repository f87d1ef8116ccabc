using FlexNet.Tensors;

namespace FlexNet.Data;

/// <summary>Samples read from a file: <see cref="Count"/> samples of <see cref="SampleShape"/> each, row-major in
/// <see cref="Values"/>.</summary>
/// <param name="Values">All values, sample after sample.</param>
/// <param name="Count">Number of samples (the file's first axis, or its rows).</param>
/// <param name="SampleShape">The shape of one sample (the file's other axes; <c>[columns]</c> for CSV).</param>
/// <param name="Source">The file, for messages.</param>
public sealed record SampleSet(float[] Values, int Count, int[] SampleShape, string Source)
{
    /// <summary>Values per sample: the product of <see cref="SampleShape"/>.</summary>
    public int Features => Count == 0 ? 0 : Values.Length / Count;
}

/// <summary>
/// Reads samples and class labels from the files the tool and spec files name, picking the format by extension:
/// <c>.npy</c> (any numeric dtype; the first axis is the sample axis), <c>.csv</c> (no header, one sample a row) and
/// anything else as IDX (<c>.gz</c> allowed; unsigned bytes scaled to [0, 1], as Fashion-MNIST's images are).
/// Every defect is a <see cref="DatasetFormatException"/> naming the file.
/// </summary>
public static class Samples
{
    /// <summary>Reads input samples.</summary>
    /// <param name="path">An NPY, CSV or IDX file.</param>
    /// <returns>The samples.</returns>
    /// <exception cref="DatasetFormatException">The file is malformed, or holds a single value rather than samples.</exception>
    public static SampleSet Read(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (path.EndsWith(".npy", StringComparison.OrdinalIgnoreCase))
        {
            var a = Npy.Read(path);
            if (a.Shape.Length < 1) throw new DatasetFormatException($"{path}: a scalar is not a set of samples; the first axis counts the samples.");
            return new SampleSet(a.ToFloatArray(), a.Shape[0], a.Shape.Length == 1 ? [1] : a.Shape[1..], path);
        }
        if (path.EndsWith(".csv", StringComparison.OrdinalIgnoreCase))
        {
            var t = Csv.Read(path, hasHeader: false);
            return new SampleSet(t.Data, t.Rows, [t.Cols], path);
        }
        var idx = Idx.Read(path);
        var f = new float[idx.Data.Length];
        for (int i = 0; i < f.Length; i++) f[i] = idx.Data[i] / 255f;
        return new SampleSet(f, idx.Shape[0], idx.Rank == 1 ? [1] : idx.Shape[1..], path);
    }

    /// <summary>Reads class labels: whole numbers from 0, one per sample (an NPY integer array, a one-column CSV, or an
    /// IDX vector).</summary>
    /// <param name="path">An NPY, CSV or IDX file.</param>
    /// <param name="expected">The number of samples the labels go with (null: any).</param>
    /// <returns>The labels (Int32).</returns>
    /// <exception cref="DatasetFormatException">The file is malformed, holds fractional or negative values, float data (class
    /// losses take integer labels), or a count other than <paramref name="expected"/>.</exception>
    public static int[] ReadLabels(string path, int? expected = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        int[] y;
        if (path.EndsWith(".npy", StringComparison.OrdinalIgnoreCase))
        {
            var a = Npy.Read(path);
            if (a.DType is NpyDType.Float32 or NpyDType.Float64)
                throw new DatasetFormatException($"{path}: the labels are floating-point ({a.DType}); a class loss takes integer labels, one class number " +
                                                 "per sample: save them as integers (numpy: y.astype(np.int64)).");
            if (a.Shape.Length != 1 && !(a.Shape.Length == 2 && a.Shape[1] == 1))
                throw new DatasetFormatException($"{path}: labels are one class number per sample, shape [N]; the array has shape {ShapeUtil.Format(a.Shape)}.");
            var l = a.ToInt64Array();
            y = new int[l.Length];
            for (int i = 0; i < l.Length; i++)
                y[i] = l[i] is >= 0 and <= int.MaxValue ? (int)l[i] : throw new DatasetFormatException($"{path}: label {i} is {l[i]}; labels are class numbers from 0.");
        }
        else if (path.EndsWith(".csv", StringComparison.OrdinalIgnoreCase))
        {
            var t = Csv.Read(path, hasHeader: false, labelColumn: 0);
            if (t.Cols != 0) throw new DatasetFormatException($"{path}: a labels file has one column (a class number a row); it has {t.Cols + 1}.");
            y = t.ClassLabels();
        }
        else
        {
            var idx = Idx.Read(path, expectedRank: 1);
            y = new int[idx.Data.Length];
            for (int i = 0; i < y.Length; i++) y[i] = idx.Data[i];
        }
        if (expected is { } n && y.Length != n) throw new DatasetFormatException($"{path}: {y.Length} labels for {n} samples.");
        return y;
    }
}
