using System.Buffers.Binary;
using FlexNet.IO;
using FlexNet.Tensors;

namespace FlexNet.Tests.IO;

/// <summary>
/// <see cref="SafeTensorEntry"/> conversions for every dtype with several elements (so an element index scaled the
/// wrong way reads the wrong bytes), the range limits of the integer conversions, and the argument checks of the
/// factories at their exact limits, with whole messages. Expected values are written out by hand.
/// </summary>
public sealed class SafeTensorEntryConversionTests
{
    private static SafeTensorEntry Raw(SafeTensorDType dtype, int n, Action<byte[]> fill)
    {
        var bytes = new byte[n * dtype.ElementSize()];
        fill(bytes);
        return SafeTensorEntry.FromRaw("v", dtype, [n], bytes);
    }

    [Fact]
    public void IntegerDTypesConvertElementByElement()
    {
        var i16 = Raw(SafeTensorDType.I16, 3, b => { BinaryPrimitives.WriteInt16LittleEndian(b, -2); BinaryPrimitives.WriteInt16LittleEndian(b.AsSpan(2), 300); BinaryPrimitives.WriteInt16LittleEndian(b.AsSpan(4), -32768); });
        Assert.Equal([-2L, 300L, -32768L], i16.ToInt64Array());
        Assert.Equal([-2.0, 300.0, -32768.0], i16.ToDoubleArray());
        Assert.Equal([-2f, 300f, -32768f], i16.ToFloatArray());

        var u16 = Raw(SafeTensorDType.U16, 3, b => { BinaryPrimitives.WriteUInt16LittleEndian(b, 7); BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(2), 65535); BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(4), 256); });
        Assert.Equal([7L, 65535L, 256L], u16.ToInt64Array());
        Assert.Equal([7, 65535, 256], u16.ToInt32Array());

        var i32 = Raw(SafeTensorDType.I32, 3, b => { BinaryPrimitives.WriteInt32LittleEndian(b, -5); BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(4), 70000); BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(8), int.MinValue); });
        Assert.Equal([-5L, 70000L, int.MinValue], i32.ToInt64Array());
        Assert.Equal([-5, 70000, int.MinValue], i32.ToInt32Array());

        var u32 = Raw(SafeTensorDType.U32, 3, b => { BinaryPrimitives.WriteUInt32LittleEndian(b, 1); BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(4), 4000000000); BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(8), 9); });
        Assert.Equal([1L, 4000000000L, 9L], u32.ToInt64Array());
        Assert.Equal([1.0, 4000000000.0, 9.0], u32.ToDoubleArray());

        var i8 = Raw(SafeTensorDType.I8, 3, b => { b[0] = 0xFF; b[1] = 0x7F; b[2] = 0x80; });
        Assert.Equal([-1L, 127L, -128L], i8.ToInt64Array());
        var boolean = Raw(SafeTensorDType.Bool, 3, b => { b[0] = 1; b[2] = 1; });
        Assert.Equal([1L, 0L, 1L], boolean.ToInt64Array());
    }

    [Fact]
    public void WideTypesConvertToFloatElementByElement()
    {
        var i64 = Raw(SafeTensorDType.I64, 3, b => { BinaryPrimitives.WriteInt64LittleEndian(b, -3); BinaryPrimitives.WriteInt64LittleEndian(b.AsSpan(8), 1L << 40); BinaryPrimitives.WriteInt64LittleEndian(b.AsSpan(16), 12); });
        Assert.Equal([-3f, 1099511627776f, 12f], i64.ToFloatArray());
        Assert.Equal([-3.0, 1099511627776.0, 12.0], i64.ToDoubleArray());

        var u64 = Raw(SafeTensorDType.U64, 3, b => { BinaryPrimitives.WriteUInt64LittleEndian(b, 5); BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(8), ulong.MaxValue); BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(16), 6); });
        Assert.Equal([5f, 18446744073709551615f, 6f], u64.ToFloatArray());
        Assert.Equal([5.0, 18446744073709551615.0, 6.0], u64.ToDoubleArray());

        var f64 = SafeTensorEntry.FromDoubles("v", [3], [0.5, -1.25, 3.0]);
        Assert.Equal([0.5f, -1.25f, 3f], f64.ToFloatArray());

        var f16 = Raw(SafeTensorDType.F16, 3, b => { BinaryPrimitives.WriteUInt16LittleEndian(b, 0x3C00); BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(2), 0xC000); BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(4), 0x3800); });
        Assert.Equal([1f, -2f, 0.5f], f16.ToFloatArray());
        Assert.Equal([1.0, -2.0, 0.5], f16.ToDoubleArray());

        var bf16 = Raw(SafeTensorDType.BF16, 3, b => { BinaryPrimitives.WriteUInt16LittleEndian(b, 0x3F80); BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(2), 0x4040); BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(4), 0xBF00); });
        Assert.Equal([1f, 3f, -0.5f], bf16.ToFloatArray());
        Assert.Equal([1.0, 3.0, -0.5], bf16.ToDoubleArray());

        var f32 = SafeTensorEntry.FromFloats("v", [3], [1.5f, -2f, 8f]);
        Assert.Equal([1.5, -2.0, 8.0], f32.ToDoubleArray());
    }

    [Fact]
    public void U64ToInt64IsCheckedAtLongMaxValue()
    {
        var ok = Raw(SafeTensorDType.U64, 2, b => { BinaryPrimitives.WriteUInt64LittleEndian(b, 4); BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(8), long.MaxValue); });
        Assert.Equal([4L, long.MaxValue], ok.ToInt64Array());

        var bad = Raw(SafeTensorDType.U64, 2, b => { BinaryPrimitives.WriteUInt64LittleEndian(b, 4); BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(8), 1UL << 63); });
        var ex = Assert.Throws<ModelFormatException>(() => bad.ToInt64Array());
        Assert.Equal("<memory>: tensor 'v' (U64) element 1 = 9223372036854775808 does not fit in Int64.", ex.Message);
    }

    [Fact]
    public void Int32ConversionAcceptsTheInt32LimitsAndNamesTheFirstValueBeyond()
    {
        var ok = SafeTensorEntry.FromInt64s("v", [2], [int.MinValue, int.MaxValue]);
        Assert.Equal([int.MinValue, int.MaxValue], ok.ToInt32Array());

        var high = SafeTensorEntry.FromInt64s("v", [3], [0, 1, (long)int.MaxValue + 1]);
        Assert.Equal("<memory>: tensor 'v' (I64) element 2 = 2147483648 does not fit in Int32.",
            Assert.Throws<ModelFormatException>(() => high.ToInt32Array()).Message);
        var low = SafeTensorEntry.FromInt64s("v", [2], [(long)int.MinValue - 1, 0]);
        Assert.Equal("<memory>: tensor 'v' (I64) element 0 = -2147483649 does not fit in Int32.",
            Assert.Throws<ModelFormatException>(() => low.ToInt32Array()).Message);
    }

    [Fact]
    public void IntegerConversionOfAFloatTensorNamesTheSourceTensorAndDType()
    {
        var f = SafeTensorFile.Parse(TestFiles.Image("{\"w\":{\"dtype\":\"F32\",\"shape\":[1,2],\"data_offsets\":[0,8]}}", dataLength: 8), "k.bin");
        Assert.Equal("k.bin: tensor 'w' has dtype F32 and shape [1, 2]; ToInt64Array needs an integer dtype (I64, I32, U8, ...).",
            Assert.Throws<ModelFormatException>(() => f["w"].ToInt64Array()).Message);
        Assert.Equal("k.bin: tensor 'w' has dtype F32 and shape [1, 2]; ToInt64Array needs an integer dtype (I64, I32, U8, ...).",
            Assert.Throws<ModelFormatException>(() => f["w"].ToInt32Array()).Message);
    }

    [Fact]
    public void FactoryLimitsAreInclusive()
    {
        // rank exactly 8 and zero-sized dimensions are allowed
        var r8 = SafeTensorEntry.FromDoubles("v", [1, 2, 1, 1, 1, 1, 1, 1], [1.0, 2.0]);
        Assert.Equal(8, r8.Rank);
        var empty = SafeTensorEntry.FromDoubles("v", [3, 0], []);
        Assert.Equal(0, empty.ElementCount);
        Assert.Equal([3, 0], empty.Shape);

        // the largest element count one array can hold passes the size check (then the byte count is wrong)
        int maxF64 = Array.MaxLength / 8;
        var ex = Assert.Throws<ShapeMismatchException>(() => SafeTensorEntry.FromRaw("v", SafeTensorDType.F64, [maxF64], []));
        Assert.Equal($"SafeTensorEntry 'v': dtype F64 with shape [{maxF64}] needs {(long)maxF64 * 8} bytes, got 0.", ex.Message);
        var big = Assert.Throws<ArgumentException>(() => SafeTensorEntry.FromRaw("v", SafeTensorDType.F64, [maxF64 + 1], []));
        Assert.Equal($"SafeTensorEntry 'v': shape [{maxF64 + 1}] is too large for one array. (Parameter 'shape')", big.Message);
    }

    [Fact]
    public void FactoryRejectionsNameTheTensorAndTheShape()
    {
        Assert.Equal("SafeTensorEntry 'v': rank 9 exceeds the maximum 8 (shape [1, 1, 1, 1, 1, 1, 1, 1, 1]). (Parameter 'shape')",
            Assert.Throws<ArgumentException>(() => SafeTensorEntry.FromDoubles("v", [1, 1, 1, 1, 1, 1, 1, 1, 1], [1.0])).Message);
        Assert.Equal("SafeTensorEntry 'v': negative dimension in shape [2, -1]. (Parameter 'shape')",
            Assert.Throws<ArgumentException>(() => SafeTensorEntry.FromDoubles("v", [2, -1], [])).Message);
        Assert.Equal("'__metadata__' is reserved for file metadata and cannot name a tensor. (Parameter 'name')",
            Assert.Throws<ArgumentException>(() => SafeTensorEntry.FromDoubles("__metadata__", [1], [1.0])).Message);
        Assert.Equal("SafeTensorEntry 'v': shape [2, 2] has 4 elements but 3 values were given.",
            Assert.Throws<ShapeMismatchException>(() => SafeTensorEntry.FromFloats("v", [2, 2], [1f, 2f, 3f])).Message);
        Assert.Equal("SafeTensorEntry 'v': dtype I16 with shape [3] needs 6 bytes, got 5.",
            Assert.Throws<ShapeMismatchException>(() => SafeTensorEntry.FromRaw("v", SafeTensorDType.I16, [3], new byte[5])).Message);
        var undefined = Assert.Throws<ArgumentOutOfRangeException>(() => SafeTensorEntry.FromRaw("v", (SafeTensorDType)99, [1], new byte[1]));
        Assert.StartsWith("Not a defined SafeTensorDType.", undefined.Message);
        Assert.Throws<ArgumentNullException>(() => SafeTensorEntry.FromDoubles(null!, [1], [1.0]));
        Assert.Throws<ArgumentNullException>(() => SafeTensorEntry.FromDoubles("v", null!, [1.0]));
    }

    [Fact]
    public void UndefinedDTypeHasNoSizeOrName()
    {
        Assert.StartsWith("Not a defined SafeTensorDType.", Assert.Throws<ArgumentOutOfRangeException>(() => ((SafeTensorDType)99).ElementSize()).Message);
        Assert.StartsWith("Not a defined SafeTensorDType.", Assert.Throws<ArgumentOutOfRangeException>(() => ((SafeTensorDType)99).SpecName()).Message);
    }

    [Fact]
    public void ToTensorConvertsOnlyWhenAnotherDTypeIsAsked()
    {
        var f32 = SafeTensorEntry.FromFloats("v", [2], [0.5f, 2f]);
        Tensor asked = TensorFile.ToTensor(f32, DType.Float64);
        Assert.Equal(DType.Float64, asked.DType);
        Assert.Equal([0.5, 2.0], asked.ToDoubleArray());
        Tensor same = TensorFile.ToTensor(f32, DType.Float32);
        Assert.Equal(DType.Float32, same.DType);
        Assert.Equal([0.5f, 2f], same.ToFloatArray());
        Assert.Equal(DType.Float32, TensorFile.ToTensor(f32).DType);
    }

    [Fact]
    public void ToStringGivesNameDTypeAndShape() =>
        Assert.Equal("w: BF16 [4, 3]", SafeTensorEntry.FromRaw("w", SafeTensorDType.BF16, [4, 3], new byte[24]).ToString());
}
