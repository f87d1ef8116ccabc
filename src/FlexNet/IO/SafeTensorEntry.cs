using System.Buffers.Binary;
using System.Runtime.InteropServices;
using FlexNet.Tensors;

namespace FlexNet.IO;

/// <summary>
/// One named tensor of a safetensors file: its element type, its shape and its raw little-endian bytes in
/// row-major (C) order. Read ones come from <see cref="SafeTensorFile"/>; ones to write are made with the
/// <c>From*</c> factories and passed to <see cref="SafeTensorWriter"/>.
/// Invariant: <c>Data.Length == product(Shape) * DType.ElementSize()</c>.
/// </summary>
public sealed class SafeTensorEntry
{
    /// <summary>Largest rank a file may declare (the safetensors reader's bound).</summary>
    public const int MaxRank = 8;

    private readonly int[] _shape;

    internal SafeTensorEntry(string name, SafeTensorDType dtype, int[] shape, int elementCount,
        ReadOnlyMemory<byte> data, string sourceName)
    {
        Name = name;
        DType = dtype;
        _shape = shape;
        ElementCount = elementCount;
        Data = data;
        SourceName = sourceName;
    }

    /// <summary>The tensor's key in the header.</summary>
    public string Name { get; }

    /// <summary>The element type.</summary>
    public SafeTensorDType DType { get; }

    /// <summary>The dimensions, outermost first (a copy; rank 0 = scalar with one element).</summary>
    public int[] Shape => (int[])_shape.Clone();

    /// <summary>Rank = <c>Shape.Length</c>.</summary>
    public int Rank => _shape.Length;

    /// <summary>Number of elements = product of <see cref="Shape"/> (1 for rank 0).</summary>
    public int ElementCount { get; }

    /// <summary>Raw little-endian bytes, <c>ElementCount * DType.ElementSize()</c> long.</summary>
    public ReadOnlyMemory<byte> Data { get; }

    /// <summary>The file (or source) name the entry was read from, or <c>"&lt;memory&gt;"</c>; used in error messages.</summary>
    public string SourceName { get; }

    internal ReadOnlySpan<int> ShapeSpan => _shape;

    /// <summary>Creates an F32 entry from values in row-major order.</summary>
    /// <param name="name">Tensor key (not <c>__metadata__</c>).</param>
    /// <param name="shape">Dimensions, each ≥ 0, rank ≤ <see cref="MaxRank"/>.</param>
    /// <param name="values">product(shape) values.</param>
    /// <returns>The entry (owns a copy of the bytes).</returns>
    /// <exception cref="ArgumentException">Bad name, negative dimension or rank above <see cref="MaxRank"/>.</exception>
    /// <exception cref="ShapeMismatchException"><paramref name="values"/> length ≠ product(shape).</exception>
    public static SafeTensorEntry FromFloats(string name, int[] shape, ReadOnlySpan<float> values) =>
        FromValues(name, SafeTensorDType.F32, shape, values);

    /// <summary>Creates an F64 entry from values in row-major order.</summary>
    /// <param name="name">Tensor key (not <c>__metadata__</c>).</param>
    /// <param name="shape">Dimensions, each ≥ 0, rank ≤ <see cref="MaxRank"/>.</param>
    /// <param name="values">product(shape) values.</param>
    /// <returns>The entry (owns a copy of the bytes).</returns>
    /// <exception cref="ArgumentException">Bad name, negative dimension or rank above <see cref="MaxRank"/>.</exception>
    /// <exception cref="ShapeMismatchException"><paramref name="values"/> length ≠ product(shape).</exception>
    public static SafeTensorEntry FromDoubles(string name, int[] shape, ReadOnlySpan<double> values) =>
        FromValues(name, SafeTensorDType.F64, shape, values);

    /// <summary>Creates an I64 entry from values in row-major order.</summary>
    /// <param name="name">Tensor key (not <c>__metadata__</c>).</param>
    /// <param name="shape">Dimensions, each ≥ 0, rank ≤ <see cref="MaxRank"/>.</param>
    /// <param name="values">product(shape) values.</param>
    /// <returns>The entry (owns a copy of the bytes).</returns>
    /// <exception cref="ArgumentException">Bad name, negative dimension or rank above <see cref="MaxRank"/>.</exception>
    /// <exception cref="ShapeMismatchException"><paramref name="values"/> length ≠ product(shape).</exception>
    public static SafeTensorEntry FromInt64s(string name, int[] shape, ReadOnlySpan<long> values) =>
        FromValues(name, SafeTensorDType.I64, shape, values);

    /// <summary>Creates an I32 entry from values in row-major order.</summary>
    /// <param name="name">Tensor key (not <c>__metadata__</c>).</param>
    /// <param name="shape">Dimensions, each ≥ 0, rank ≤ <see cref="MaxRank"/>.</param>
    /// <param name="values">product(shape) values.</param>
    /// <returns>The entry (owns a copy of the bytes).</returns>
    /// <exception cref="ArgumentException">Bad name, negative dimension or rank above <see cref="MaxRank"/>.</exception>
    /// <exception cref="ShapeMismatchException"><paramref name="values"/> length ≠ product(shape).</exception>
    public static SafeTensorEntry FromInt32s(string name, int[] shape, ReadOnlySpan<int> values) =>
        FromValues(name, SafeTensorDType.I32, shape, values);

    /// <summary>Creates a U8 entry from values in row-major order.</summary>
    /// <param name="name">Tensor key (not <c>__metadata__</c>).</param>
    /// <param name="shape">Dimensions, each ≥ 0, rank ≤ <see cref="MaxRank"/>.</param>
    /// <param name="values">product(shape) values.</param>
    /// <returns>The entry (owns a copy of the bytes).</returns>
    /// <exception cref="ArgumentException">Bad name, negative dimension or rank above <see cref="MaxRank"/>.</exception>
    /// <exception cref="ShapeMismatchException"><paramref name="values"/> length ≠ product(shape).</exception>
    public static SafeTensorEntry FromBytes(string name, int[] shape, ReadOnlySpan<byte> values) =>
        FromRaw(name, SafeTensorDType.U8, shape, values);

    /// <summary>Creates an entry of any dtype from raw little-endian bytes in row-major order.</summary>
    /// <param name="name">Tensor key (not <c>__metadata__</c>).</param>
    /// <param name="dtype">Element type.</param>
    /// <param name="shape">Dimensions, each ≥ 0, rank ≤ <see cref="MaxRank"/>.</param>
    /// <param name="rawLittleEndian">product(shape) · dtype.ElementSize() bytes.</param>
    /// <returns>The entry (owns a copy of the bytes).</returns>
    /// <exception cref="ArgumentException">Bad name, negative dimension or rank above <see cref="MaxRank"/>.</exception>
    /// <exception cref="ShapeMismatchException">Byte length ≠ product(shape) · element size.</exception>
    public static SafeTensorEntry FromRaw(string name, SafeTensorDType dtype, int[] shape, ReadOnlySpan<byte> rawLittleEndian)
    {
        int count = CheckNew(name, dtype, shape);
        long expected = (long)count * dtype.ElementSize();
        if (rawLittleEndian.Length != expected)
            throw new ShapeMismatchException(
                $"SafeTensorEntry '{name}': dtype {dtype.SpecName()} with shape {FormatShape(shape)} needs {expected} bytes, got {rawLittleEndian.Length}.");
        return new SafeTensorEntry(name, dtype, (int[])shape.Clone(), count, rawLittleEndian.ToArray(), "<memory>");
    }

    private static SafeTensorEntry FromValues<T>(string name, SafeTensorDType dtype, int[] shape, ReadOnlySpan<T> values)
        where T : unmanaged
    {
        int count = CheckNew(name, dtype, shape);
        if (values.Length != count)
            throw new ShapeMismatchException(
                $"SafeTensorEntry '{name}': shape {FormatShape(shape)} has {count} elements but {values.Length} values were given.");
        var bytes = new byte[(long)count * dtype.ElementSize()];
        if (BitConverter.IsLittleEndian)
        {
            MemoryMarshal.AsBytes(values).CopyTo(bytes);
        }
        // Stryker disable once all: runs only on big-endian hosts; the tests run on little-endian ones
        else
        {
            Span<byte> dst = bytes;
            int size = dtype.ElementSize();
            for (int i = 0; i < values.Length; i++)
            {
                MemoryMarshal.AsBytes(values.Slice(i, 1)).CopyTo(dst.Slice(i * size, size));
                dst.Slice(i * size, size).Reverse();
            }
        }
        return new SafeTensorEntry(name, dtype, (int[])shape.Clone(), count, bytes, "<memory>");
    }

    private static int CheckNew(string name, SafeTensorDType dtype, int[] shape)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(shape);
        if (name == SafeTensorFile.MetadataKey)
            throw new ArgumentException($"'{SafeTensorFile.MetadataKey}' is reserved for file metadata and cannot name a tensor.", nameof(name));
        if (!Enum.IsDefined(dtype))
            throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "Not a defined SafeTensorDType.");
        if (shape.Length > MaxRank)
            throw new ArgumentException($"SafeTensorEntry '{name}': rank {shape.Length} exceeds the maximum {MaxRank} (shape {FormatShape(shape)}).", nameof(shape));
        long count = 1;
        foreach (int d in shape)
            if (d < 0)
                throw new ArgumentException($"SafeTensorEntry '{name}': negative dimension in shape {FormatShape(shape)}.", nameof(shape));
        if (shape.Contains(0)) count = 0; // an empty tensor, whatever its other dimensions
        foreach (int d in shape)
        {
            count *= d; // at most 8 factors, each < 2^31, checked below before it can overflow
            if (count > Array.MaxLength / dtype.ElementSize())
                throw new ArgumentException($"SafeTensorEntry '{name}': shape {FormatShape(shape)} is too large for one array.", nameof(shape));
        }
        return (int)count;
    }

    /// <summary>Converts every element to <see cref="double"/> (exact for all types except I64/U64 beyond 2^53).</summary>
    /// <returns>A new array of <see cref="ElementCount"/> values in row-major order.</returns>
    public double[] ToDoubleArray()
    {
        var result = new double[ElementCount];
        ReadOnlySpan<byte> src = Data.Span;
        if (DType == SafeTensorDType.F64 && BitConverter.IsLittleEndian)
        {
            MemoryMarshal.Cast<byte, double>(src).CopyTo(result);
            return result;
        }
        for (int i = 0; i < result.Length; i++) result[i] = ReadAsDouble(src, i);
        return result;
    }

    /// <summary>Converts every element to <see cref="float"/> (rounded to nearest for F64/I32/I64/U32/U64).</summary>
    /// <returns>A new array of <see cref="ElementCount"/> values in row-major order.</returns>
    public float[] ToFloatArray()
    {
        var result = new float[ElementCount];
        ReadOnlySpan<byte> src = Data.Span;
        if (DType == SafeTensorDType.F32 && BitConverter.IsLittleEndian)
        {
            MemoryMarshal.Cast<byte, float>(src).CopyTo(result);
            return result;
        }
        for (int i = 0; i < result.Length; i++)
        {
            result[i] = DType switch
            {
                // Stryker disable once Arithmetic: F32 reaches this loop only on big-endian hosts (little-endian ones copy above)
                SafeTensorDType.F32 => BinaryPrimitives.ReadSingleLittleEndian(src.Slice(i * 4)),
                SafeTensorDType.F16 => (float)BitConverter.UInt16BitsToHalf(BinaryPrimitives.ReadUInt16LittleEndian(src.Slice(i * 2))),
                SafeTensorDType.BF16 => BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(src.Slice(i * 2)) << 16),
                SafeTensorDType.I64 => BinaryPrimitives.ReadInt64LittleEndian(src.Slice(i * 8)),
                SafeTensorDType.U64 => BinaryPrimitives.ReadUInt64LittleEndian(src.Slice(i * 8)),
                _ => (float)ReadAsDouble(src, i),
            };
        }
        return result;
    }

    /// <summary>Converts every element of an integer (or BOOL) tensor to <see cref="long"/>.</summary>
    /// <returns>A new array of <see cref="ElementCount"/> values in row-major order.</returns>
    /// <exception cref="ModelFormatException">The dtype is a floating-point type, or a U64 value exceeds <see cref="long.MaxValue"/>.</exception>
    public long[] ToInt64Array()
    {
        RequireInteger(nameof(ToInt64Array));
        var result = new long[ElementCount];
        ReadOnlySpan<byte> src = Data.Span;
        for (int i = 0; i < result.Length; i++)
        {
            if (DType == SafeTensorDType.U64)
            {
                ulong u = BinaryPrimitives.ReadUInt64LittleEndian(src.Slice(i * 8));
                if (u > long.MaxValue)
                    throw new ModelFormatException($"{SourceName}: tensor '{Name}' (U64) element {i} = {u} does not fit in Int64.");
                result[i] = (long)u;
            }
            else
            {
                result[i] = ReadAsInt64(src, i);
            }
        }
        return result;
    }

    /// <summary>Converts every element of an integer (or BOOL) tensor to <see cref="int"/>, range-checked.</summary>
    /// <returns>A new array of <see cref="ElementCount"/> values in row-major order.</returns>
    /// <exception cref="ModelFormatException">The dtype is a floating-point type, or a value is outside the Int32 range.</exception>
    public int[] ToInt32Array()
    {
        long[] wide = ToInt64Array();
        var result = new int[wide.Length];
        for (int i = 0; i < wide.Length; i++)
        {
            if (wide[i] < int.MinValue || wide[i] > int.MaxValue)
                throw new ModelFormatException($"{SourceName}: tensor '{Name}' ({DType.SpecName()}) element {i} = {wide[i]} does not fit in Int32.");
            result[i] = (int)wide[i];
        }
        return result;
    }

    /// <summary>Copies the raw little-endian bytes.</summary>
    /// <returns>A new array equal to <see cref="Data"/>.</returns>
    public byte[] ToRawArray() => Data.ToArray();

    /// <summary>Compact description, e.g. <c>w: F64 [4, 3, 3, 3]</c>.</summary>
    /// <returns>The name, dtype and shape.</returns>
    public override string ToString() => $"{Name}: {DType.SpecName()} {FormatShape(_shape)}";

    private void RequireInteger(string method)
    {
        if (!DType.IsInteger())
            throw new ModelFormatException(
                $"{SourceName}: tensor '{Name}' has dtype {DType.SpecName()} and shape {FormatShape(_shape)}; {method} needs an integer dtype (I64, I32, U8, ...).");
    }

    private long ReadAsInt64(ReadOnlySpan<byte> src, int i) => DType switch
    {
        SafeTensorDType.Bool or SafeTensorDType.U8 => src[i],
        SafeTensorDType.I8 => (sbyte)src[i],
        SafeTensorDType.I16 => BinaryPrimitives.ReadInt16LittleEndian(src.Slice(i * 2)),
        SafeTensorDType.U16 => BinaryPrimitives.ReadUInt16LittleEndian(src.Slice(i * 2)),
        SafeTensorDType.I32 => BinaryPrimitives.ReadInt32LittleEndian(src.Slice(i * 4)),
        SafeTensorDType.U32 => BinaryPrimitives.ReadUInt32LittleEndian(src.Slice(i * 4)),
        SafeTensorDType.I64 => BinaryPrimitives.ReadInt64LittleEndian(src.Slice(i * 8)),
        // Stryker disable once String: unreachable: RequireInteger rejects floating dtypes before, and U64 is read apart
        _ => throw new InvalidOperationException("unreachable: integer dtype expected"),
    };

    private double ReadAsDouble(ReadOnlySpan<byte> src, int i) => DType switch
    {
        SafeTensorDType.F64 => BinaryPrimitives.ReadDoubleLittleEndian(src.Slice(i * 8)),
        SafeTensorDType.F32 => BinaryPrimitives.ReadSingleLittleEndian(src.Slice(i * 4)),
        SafeTensorDType.F16 => (double)BitConverter.UInt16BitsToHalf(BinaryPrimitives.ReadUInt16LittleEndian(src.Slice(i * 2))),
        SafeTensorDType.BF16 => BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(src.Slice(i * 2)) << 16),
        SafeTensorDType.U64 => BinaryPrimitives.ReadUInt64LittleEndian(src.Slice(i * 8)),
        _ => ReadAsInt64(src, i),
    };

    internal static string FormatShape(ReadOnlySpan<int> shape) => "[" + string.Join(", ", shape.ToArray()) + "]";
}
