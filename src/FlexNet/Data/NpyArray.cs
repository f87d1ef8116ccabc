using FlexNet.Tensors;

namespace FlexNet.Data;

/// <summary>
/// An n-dimensional array read from or written to a <c>.npy</c> file: a C-order (row-major) typed
/// <see cref="Data"/> array (<c>float[]</c>, <c>double[]</c>, <c>long[]</c>, <c>int[]</c> or <c>byte[]</c>
/// according to <see cref="DType"/>) and its <see cref="Shape"/>.
/// </summary>
public sealed class NpyArray
{
    private NpyArray(NpyDType dtype, int[] shape, Array data)
    {
        long count = 1;
        foreach (int d in shape)
        {
            if (d < 0) throw new ArgumentException($"NpyArray: negative dimension in shape [{string.Join(", ", shape)}].", nameof(shape));
            count *= d;
            if (count > Array.MaxLength) throw new ArgumentException($"NpyArray: shape [{string.Join(", ", shape)}] is too large.", nameof(shape));
        }
        if (count != data.Length)
            throw new ShapeMismatchException($"NpyArray: shape [{string.Join(", ", shape)}] has {count} elements but the data has {data.Length}.");
        DType = dtype;
        Shape = (int[])shape.Clone();
        Data = data;
    }

    /// <summary>Wraps float32 data (not copied) with its shape.</summary>
    /// <param name="data">product(shape) values, row-major.</param>
    /// <param name="shape">Dimensions; <c>[]</c> for a scalar.</param>
    /// <exception cref="ShapeMismatchException">Length ≠ product(shape).</exception>
    public NpyArray(float[] data, int[] shape) : this(NpyDType.Float32, shape, data) { }

    /// <summary>Wraps float64 data (not copied) with its shape.</summary>
    /// <param name="data">product(shape) values, row-major.</param>
    /// <param name="shape">Dimensions; <c>[]</c> for a scalar.</param>
    /// <exception cref="ShapeMismatchException">Length ≠ product(shape).</exception>
    public NpyArray(double[] data, int[] shape) : this(NpyDType.Float64, shape, data) { }

    /// <summary>Wraps int64 data (not copied) with its shape.</summary>
    /// <param name="data">product(shape) values, row-major.</param>
    /// <param name="shape">Dimensions; <c>[]</c> for a scalar.</param>
    /// <exception cref="ShapeMismatchException">Length ≠ product(shape).</exception>
    public NpyArray(long[] data, int[] shape) : this(NpyDType.Int64, shape, data) { }

    /// <summary>Wraps int32 data (not copied) with its shape.</summary>
    /// <param name="data">product(shape) values, row-major.</param>
    /// <param name="shape">Dimensions; <c>[]</c> for a scalar.</param>
    /// <exception cref="ShapeMismatchException">Length ≠ product(shape).</exception>
    public NpyArray(int[] data, int[] shape) : this(NpyDType.Int32, shape, data) { }

    /// <summary>Wraps uint8 data (not copied) with its shape.</summary>
    /// <param name="data">product(shape) values, row-major.</param>
    /// <param name="shape">Dimensions; <c>[]</c> for a scalar.</param>
    /// <exception cref="ShapeMismatchException">Length ≠ product(shape).</exception>
    public NpyArray(byte[] data, int[] shape) : this(NpyDType.UInt8, shape, data) { }

    /// <summary>The element type; decides the runtime type of <see cref="Data"/>.</summary>
    public NpyDType DType { get; }

    /// <summary>Dimensions, outermost first (<c>[]</c> for a 0-d array).</summary>
    public int[] Shape { get; }

    /// <summary>The elements, C order: a <c>float[]</c>, <c>double[]</c>, <c>long[]</c>, <c>int[]</c> or <c>byte[]</c>.</summary>
    public Array Data { get; }

    /// <summary>Number of elements = product(Shape).</summary>
    public int Count => Data.Length;

    /// <summary>The data as <typeparamref name="T"/>[] without conversion.</summary>
    /// <typeparam name="T">Must match <see cref="DType"/> (float, double, long, int or byte).</typeparam>
    /// <returns>The underlying array (not a copy).</returns>
    /// <exception cref="InvalidOperationException">The element type is different.</exception>
    public T[] GetData<T>() where T : unmanaged =>
        Data as T[] ?? throw new InvalidOperationException($"NpyArray holds {DType} data, not {typeof(T).Name}; use ToFloatArray/ToDoubleArray to convert.");

    /// <summary>Converts every element to float (rounded to nearest for float64 and large integers).</summary>
    /// <returns>A new array.</returns>
    public float[] ToFloatArray()
    {
        var r = new float[Count];
        switch (Data)
        {
            case float[] f: f.CopyTo(r, 0); break;
            case double[] d: for (int i = 0; i < r.Length; i++) r[i] = (float)d[i]; break;
            case long[] l: for (int i = 0; i < r.Length; i++) r[i] = l[i]; break;
            case int[] n: for (int i = 0; i < r.Length; i++) r[i] = n[i]; break;
            case byte[] b: for (int i = 0; i < r.Length; i++) r[i] = b[i]; break;
        }
        return r;
    }

    /// <summary>Converts every element to double (exact except int64 beyond 2^53).</summary>
    /// <returns>A new array.</returns>
    public double[] ToDoubleArray()
    {
        var r = new double[Count];
        switch (Data)
        {
            case float[] f: for (int i = 0; i < r.Length; i++) r[i] = f[i]; break;
            case double[] d: d.CopyTo(r, 0); break;
            case long[] l: for (int i = 0; i < r.Length; i++) r[i] = l[i]; break;
            case int[] n: for (int i = 0; i < r.Length; i++) r[i] = n[i]; break;
            case byte[] b: for (int i = 0; i < r.Length; i++) r[i] = b[i]; break;
        }
        return r;
    }

    /// <summary>Converts the elements of an integer array to long.</summary>
    /// <returns>A new array.</returns>
    /// <exception cref="InvalidOperationException">The array holds floating-point data.</exception>
    public long[] ToInt64Array()
    {
        var r = new long[Count];
        switch (Data)
        {
            case long[] l: l.CopyTo(r, 0); break;
            case int[] n: for (int i = 0; i < r.Length; i++) r[i] = n[i]; break;
            case byte[] b: for (int i = 0; i < r.Length; i++) r[i] = b[i]; break;
            default: throw new InvalidOperationException($"NpyArray holds {DType} data; ToInt64Array needs an integer dtype.");
        }
        return r;
    }

    internal static int ElementSize(NpyDType t) => t switch
    {
        NpyDType.Float32 or NpyDType.Int32 => 4,
        NpyDType.Float64 or NpyDType.Int64 => 8,
        _ => 1,
    };

    internal static NpyArray FromBytes(NpyDType dtype, int[] shape, ReadOnlySpan<byte> littleEndian)
    {
        Array data = dtype switch
        {
            NpyDType.Float32 => Cast<float>(littleEndian),
            NpyDType.Float64 => Cast<double>(littleEndian),
            NpyDType.Int64 => Cast<long>(littleEndian),
            NpyDType.Int32 => Cast<int>(littleEndian),
            _ => littleEndian.ToArray(),
        };
        return new NpyArray(dtype, shape, data);
    }

    private static T[] Cast<T>(ReadOnlySpan<byte> bytes) where T : unmanaged
    {
        T[] r = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, T>(bytes).ToArray();
        // Stryker disable once all: runs only on big-endian hosts; the tests run on little-endian ones
        if (!BitConverter.IsLittleEndian)
        {
            var raw = System.Runtime.InteropServices.MemoryMarshal.AsBytes(r.AsSpan());
            int size = System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
            for (int i = 0; i < raw.Length; i += size) raw.Slice(i, size).Reverse();
        }
        return r;
    }
}
