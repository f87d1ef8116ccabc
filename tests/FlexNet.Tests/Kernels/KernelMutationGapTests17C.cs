using System.Numerics;
using System.Reflection;
using System.Runtime.Intrinsics;
using FlexNet.Kernels;
using Xunit;
using static FlexNet.Tests.Kernels.SimdTestSupport;

namespace FlexNet.Tests.Kernels;

// Probe ops: each member returns a constant naming the width that ran it (scalar 1, 128-bit 2, 256-bit 4, 512-bit 8),
// so a test sees which path the driver chose for a given forced width and length (documented on Simd).
internal readonly struct TWidthProbe<T> : IUnaryOp<T>, IBinaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private static T K(int v) => T.CreateTruncating(v);
    public static T Invoke(T x) => K(1);
    public static Vector128<T> Invoke(Vector128<T> x) => Vector128.Create(K(2));
    public static Vector256<T> Invoke(Vector256<T> x) => Vector256.Create(K(4));
    public static Vector512<T> Invoke(Vector512<T> x) => Vector512.Create(K(8));
    public static T Invoke(T x, T y) => K(1);
    public static Vector128<T> Invoke(Vector128<T> x, Vector128<T> y) => Vector128.Create(K(2));
    public static Vector256<T> Invoke(Vector256<T> x, Vector256<T> y) => Vector256.Create(K(4));
    public static Vector512<T> Invoke(Vector512<T> x, Vector512<T> y) => Vector512.Create(K(8));
}

/// <summary>A non-generic op (its type name has no arity suffix): negation of floats.</summary>
internal readonly struct TNegF : IUnaryOp<float>
{
    public static float Invoke(float x) => -x;
    public static Vector128<float> Invoke(Vector128<float> x) => -x;
    public static Vector256<float> Invoke(Vector256<float> x) => -x;
    public static Vector512<float> Invoke(Vector512<float> x) => -x;
}

/// <summary>
/// Gaps left by a mutation run over Simd, SimdMath.Series, SoftmaxKernels, Subnormals, Transpose, VectorOps and
/// WorkerPool (part 1: the Simd driver). The width chosen per forced MaxVectorBits and length, seen through a probe
/// op; every operand-length check of every Map/MapAdd form with its whole message; partial aliasing of each operand
/// of the three-operand form; the op name in messages; the parsing of FLEXNET_MAX_VECTOR_BITS.
/// </summary>
[Trait("Category", "Kernels")]
[Collection(SimdPathsCollection.Name)]
public sealed partial class KernelMutationGapTests17C
{
    private static T C<T>(double v) where T : unmanaged, IFloatingPointIeee754<T> => T.CreateChecked(v);

    // ------------------------------------------------------------------ FLEXNET_MAX_VECTOR_BITS

    [Theory]
    [InlineData(null)]
    [InlineData("0")]
    [InlineData("128")]
    [InlineData("256")]
    [InlineData("512")]
    [InlineData("64")]
    [InlineData("-1")]
    [InlineData("abc")]
    [InlineData("")]
    public void Default_width_follows_the_environment_variable_when_it_names_a_width(string? value)
    {
        // The default is computed once per process; the parsing is re-run here with the variable set for this call.
        var compute = typeof(Simd).GetMethod("ComputeDefaultVectorBits", BindingFlags.NonPublic | BindingFlags.Static)!;
        int hardware = Vector512.IsHardwareAccelerated ? 512 : Vector256.IsHardwareAccelerated ? 256 : Vector128.IsHardwareAccelerated ? 128 : 0;
        int expected = value switch { "0" => 0, "128" => 128, "256" => 256, "512" => 512, _ => hardware };
        string? saved = Environment.GetEnvironmentVariable("FLEXNET_MAX_VECTOR_BITS");
        try
        {
            Environment.SetEnvironmentVariable("FLEXNET_MAX_VECTOR_BITS", value);
            Assert.Equal(expected, (int)compute.Invoke(null, null)!);
        }
        finally
        {
            Environment.SetEnvironmentVariable("FLEXNET_MAX_VECTOR_BITS", saved);
        }
    }

    [Fact]
    public void Invalid_width_is_refused_with_the_whole_message()
    {
        int saved = Simd.MaxVectorBits;
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Simd.MaxVectorBits = 64);
        Assert.Equal($"Simd.MaxVectorBits must be 0, 128, 256 or 512. (Parameter 'value'){Environment.NewLine}Actual value was 64.", e.Message);
        Assert.Equal(saved, Simd.MaxVectorBits);
    }

    // ------------------------------------------------------------------ width dispatch (Map and Sum)

    private static int ExpectedMarker<T>(int bits, int n) where T : unmanaged
    {
        if (bits >= 512 && n >= Vector512<T>.Count) return 8;
        if (bits >= 256 && n >= Vector256<T>.Count) return 4;
        if (bits >= 128 && n >= Vector128<T>.Count) return 2;
        return 1;
    }

    [Fact]
    public void Map_and_Sum_take_the_widest_allowed_width_that_fits_the_length()
    {
        Probe<float>();
        Probe<double>();

        static void Probe<T>() where T : unmanaged, IFloatingPointIeee754<T>
        {
            ForEachPath(bits =>
            {
                for (int n = 1; n <= 2 * Vector512<T>.Count + 1; n++)
                {
                    int want = ExpectedMarker<T>(bits, n);
                    var x = new T[n];
                    var y = new T[n];
                    Simd.Map<TWidthProbe<T>, T>(x, y);
                    for (int i = 0; i < n; i++)
                        Assert.True(y[i] == C<T>(want), $"{typeof(T).Name} bits={bits} n={n} i={i}: width marker {y[i]}, want {want}");
                    T s = Simd.Sum<TWidthProbe<T>, T>(x, T.Zero);
                    Assert.True(s == C<T>((double)want * n), $"{typeof(T).Name} bits={bits} n={n}: Sum {s}, want {want * n}");
                }
            });
        }
    }

    // ------------------------------------------------------------------ operand lengths, every form

    private static string LenMessage(string op, int dst, string lens) =>
        $"Simd.Map<{op}>: operand lengths ({lens}) differ from destination length {dst}.";

    private static void ThrowsLen(Action a, string op, int dst, string lens)
    {
        var e = Assert.Throws<ShapeMismatchException>(a);
        Assert.Equal(LenMessage(op, dst, lens), e.Message);
    }

    [Fact]
    public void Every_form_refuses_a_longer_x_with_the_whole_message()
    {
        var x = new float[4];
        var y = new float[3];
        var z = new float[3];
        ThrowsLen(() => Simd.Map<TAffine<float>, float>(x, new float[3]), "TAffine", 3, "x=4");
        ThrowsLen(() => Simd.Map<TMulSub<float>, float>(x, y, new float[3]), "TMulSub", 3, "x=4, y=3");
        ThrowsLen(() => Simd.Map<TMulSub<float>, float>(x, 2f, new float[3]), "TMulSub", 3, "x=4");
        ThrowsLen(() => Simd.Map<TSubMul<float>, float>(x, y, z, new float[3]), "TSubMul", 3, "x=4, y=3, z=3");
        ThrowsLen(() => Simd.Map<TSubMul<float>, float>(x, y, 2f, new float[3]), "TSubMul", 3, "x=4, y=3");
        ThrowsLen(() => Simd.Map<TSubMul<float>, float>(x, 2f, 3f, new float[3]), "TSubMul", 3, "x=4");
        ThrowsLen(() => Simd.Map<TDot2<float>, float>(x, y, 2f, 3f, new float[3]), "TDot2", 3, "x=4, y=3");
        ThrowsLen(() => Simd.MapAdd<TAffine<float>, float>(x, new float[3]), "TAffine", 3, "x=4");
        ThrowsLen(() => Simd.MapAdd<TMulSub<float>, float>(x, y, new float[3]), "TMulSub", 3, "x=4, y=3");
        ThrowsLen(() => Simd.MapAdd<TMulSub<float>, float>(x, 2f, new float[3]), "TMulSub", 3, "x=4");
        ThrowsLen(() => Simd.MapAdd<TSubMul<float>, float>(x, y, z, new float[3]), "TSubMul", 3, "x=4, y=3, z=3");
        ThrowsLen(() => Simd.MapAdd<TSubMul<float>, float>(x, y, 2f, new float[3]), "TSubMul", 3, "x=4, y=3");
        ThrowsLen(() => Simd.MapAdd<TSubMul<float>, float>(x, 2f, 3f, new float[3]), "TSubMul", 3, "x=4");
        ThrowsLen(() => Simd.MapAdd<TDot2<float>, float>(x, y, 2f, 3f, new float[3]), "TDot2", 3, "x=4, y=3");
    }

    [Fact]
    public void Each_operand_length_is_checked_alone_and_an_empty_operand_is_named_with_its_zero_length()
    {
        var d = new float[3];
        // binary: y alone, y empty
        ThrowsLen(() => Simd.Map<TMulSub<float>, float>(new float[3], new float[2], d), "TMulSub", 3, "x=3, y=2");
        ThrowsLen(() => Simd.Map<TMulSub<float>, float>(new float[3], new float[0], d), "TMulSub", 3, "x=3, y=0");
        // ternary: x alone, y alone, z alone, z empty
        ThrowsLen(() => Simd.Map<TSubMul<float>, float>(new float[2], new float[3], new float[3], d), "TSubMul", 3, "x=2, y=3, z=3");
        ThrowsLen(() => Simd.Map<TSubMul<float>, float>(new float[3], new float[2], new float[3], d), "TSubMul", 3, "x=3, y=2, z=3");
        ThrowsLen(() => Simd.Map<TSubMul<float>, float>(new float[3], new float[3], new float[2], d), "TSubMul", 3, "x=3, y=3, z=2");
        ThrowsLen(() => Simd.Map<TSubMul<float>, float>(new float[3], new float[3], new float[0], d), "TSubMul", 3, "x=3, y=3, z=0");
        ThrowsLen(() => Simd.MapAdd<TSubMul<float>, float>(new float[0], new float[0], new float[0], d), "TSubMul", 3, "x=0, y=0, z=0");
        // unary, empty x
        ThrowsLen(() => Simd.Map<TAffine<float>, float>(new float[0], d), "TAffine", 3, "x=0");
    }

    [Fact]
    public void Op_name_drops_the_generic_arity_and_keeps_a_plain_name()
    {
        Assert.Equal("TAffine", Simd.OpName<TAffine<double>>());
        Assert.Equal("TNegF", Simd.OpName<TNegF>());
        ThrowsLen(() => Simd.Map<TNegF, float>(new float[5], new float[6]), "TNegF", 6, "x=5");
        var y = new float[3];
        Simd.Map<TNegF, float>([1f, -2f, 0.5f], y);
        Assert.Equal([-1f, 2f, -0.5f], y);
    }

    // ------------------------------------------------------------------ partial aliasing (three-operand form)

    private static string AliasMessage(string op, string name, int offset) =>
        $"Simd.Map<{op}>: operand {name} partially overlaps the destination (offset {offset} elements); " +
        "an input must be either the destination itself or disjoint from it.";

    [Fact]
    public void Each_operand_of_the_three_operand_form_must_not_partially_overlap_the_destination()
    {
        const int n = 9;
        var buf = new float[n + 2];
        var a = new float[n];
        var b = new float[n];
        for (int i = 0; i < buf.Length; i++) buf[i] = i + 1;
        for (int i = 0; i < n; i++) { a[i] = 0.5f * i; b[i] = 2 - i; }
        Span<float> dst = buf.AsSpan(1, n);

        var e = Assert.Throws<ArgumentException>(() => Simd.Map<TSubMul<float>, float>(buf.AsSpan(0, n), a, b, buf.AsSpan(1, n)));
        Assert.Equal(AliasMessage("TSubMul", "x", 1), e.Message);
        e = Assert.Throws<ArgumentException>(() => Simd.Map<TSubMul<float>, float>(a, buf.AsSpan(2, n), b, buf.AsSpan(1, n)));
        Assert.Equal(AliasMessage("TSubMul", "y", -1), e.Message);
        e = Assert.Throws<ArgumentException>(() => Simd.MapAdd<TSubMul<float>, float>(a, b, buf.AsSpan(0, n), buf.AsSpan(1, n)));
        Assert.Equal(AliasMessage("TSubMul", "z", 1), e.Message);
        for (int i = 0; i < buf.Length; i++) Assert.Equal(i + 1, buf[i]); // nothing written

        // the very same span as every operand is allowed (in place): dst = (d - d) * d = 0
        Simd.Map<TSubMul<float>, float>(dst, dst, dst, dst);
        for (int i = 0; i < n; i++) Assert.Equal(0f, dst[i]);
        // disjoint operands: (a - b) * dst, computed by a plain loop
        var d2 = new float[n];
        for (int i = 0; i < n; i++) d2[i] = i - 3;
        var want = new float[n];
        for (int i = 0; i < n; i++) want[i] = (a[i] - b[i]) * d2[i];
        Simd.Map<TSubMul<float>, float>(a, b, d2, d2);
        Assert.Equal(want, d2);
    }
}
