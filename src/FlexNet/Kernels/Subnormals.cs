using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace FlexNet.Kernels;

/// <summary>
/// Flush-to-zero for buffers: .NET cannot set the MXCSR FTZ/DAZ bits portably, and on many CPUs (Intel's in
/// particular) an arithmetic instruction with a subnormal operand or result takes a microcode assist of ~100
/// cycles. Gradients of long recurrences shrink geometrically and turn subnormal; flushing them where they enter a
/// backward node keeps every kernel downstream on normal numbers (or zeros). A value is subnormal when
/// <c>0 &lt; |v| &lt; </c><see cref="MinNormal{T}"/> (float: 1.17549435e-38); it becomes a zero of the same sign, as FTZ hardware
/// does. Zeros, normal numbers, infinities and NaNs are left bit for bit as they are.
/// </summary>
internal static partial class Subnormals
{
    /// <summary>Replaces every subnormal of <paramref name="x"/> by a zero of the same sign.</summary>
    /// <returns>How many values were flushed.</returns>
    public static int FlushToZero<T>(Span<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ref T p = ref MemoryMarshal.GetReference(x);
        nuint n = (nuint)x.Length, i = 0;
        int flushed = 0;
        if (Vector512.IsHardwareAccelerated && n >= (nuint)Vector512<T>.Count)
        {
            var min = Vector512.Create(MinNormal<T>());
            var sign = Vector512.Create(T.NegativeZero);
            for (; i + (nuint)Vector512<T>.Count <= n; i += (nuint)Vector512<T>.Count)
            {
                var v = Vector512.LoadUnsafe(ref p, i);
                var a = Vector512.Abs(v);
                var m = Vector512.LessThan(a, min) & ~Vector512.Equals(a, Vector512<T>.Zero);
                if (m != Vector512<T>.Zero)
                {
                    Vector512.ConditionalSelect(m, v & sign, v).StoreUnsafe(ref p, i);
                    flushed += BitOperations.PopCount(m.ExtractMostSignificantBits());
                }
            }
        }
        else if (Vector256.IsHardwareAccelerated && n >= (nuint)Vector256<T>.Count)
        {
            var min = Vector256.Create(MinNormal<T>());
            var sign = Vector256.Create(T.NegativeZero);
            for (; i + (nuint)Vector256<T>.Count <= n; i += (nuint)Vector256<T>.Count)
            {
                var v = Vector256.LoadUnsafe(ref p, i);
                var a = Vector256.Abs(v);
                var m = Vector256.LessThan(a, min) & ~Vector256.Equals(a, Vector256<T>.Zero);
                if (m != Vector256<T>.Zero)
                {
                    Vector256.ConditionalSelect(m, v & sign, v).StoreUnsafe(ref p, i);
                    flushed += BitOperations.PopCount(m.ExtractMostSignificantBits());
                }
            }
        }
        for (; i < n; i++)
        {
            ref T v = ref Unsafe.Add(ref p, i);
            if (IsSubnormal(v))
            {
                v = T.IsNegative(v) ? T.NegativeZero : T.Zero;
                flushed++;
            }
        }
        return flushed;
    }

    /// <summary>How many values of <paramref name="x"/> are subnormal.</summary>
    public static int Count<T>(ReadOnlySpan<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int c = 0;
        foreach (T v in x) if (IsSubnormal(v)) c++;
        return c;
    }

    /// <summary>The smallest positive normal number of T (float 2⁻¹²⁶ ≈ 1.17549435e-38, double 2⁻¹⁰²²).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T MinNormal<T>() where T : unmanaged, IFloatingPointIeee754<T>
        => typeof(T) == typeof(float) ? (T)(object)BitConverter.Int32BitsToSingle(0x0080_0000)
         : (T)(object)BitConverter.Int64BitsToDouble(0x0010_0000_0000_0000);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool IsSubnormal<T>(T v) where T : unmanaged, IFloatingPointIeee754<T> => T.IsSubnormal(v);
}
