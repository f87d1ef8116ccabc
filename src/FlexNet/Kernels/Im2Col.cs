using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace FlexNet.Kernels;

/// <summary>
/// Convolution support kernels around GEMM: <see cref="Im2Col{T}"/> / <see cref="Col2Im{T}"/> for one image in
/// PyTorch layout <c>[C, H, W]</c>, output-size and 'same'-padding helpers, and per-channel bias helpers.
/// A 1-d convolution over <c>[C, L]</c> is the case <c>H = 1</c>, <c>kernelH = 1</c>, <c>strideH = 1</c>,
/// <c>padTop = padBottom = 0</c>, <c>dilationH = 1</c>, <c>W = L</c>.
/// </summary>
/// <remarks>
/// Column layout: <c>cols[(c*kernelH + i)*kernelW + j, oh*outW + ow] = x[c, oh*strideH - padTop + i*dilationH,
/// ow*strideW - padLeft + j*dilationW]</c> (zero where the position falls into padding). Conv forward of one
/// image is then <c>y[O, outH*outW] = w[O, C*kh*kw] · cols</c>; the weight gradient is <c>gy · colsᵀ</c>; the
/// input gradient is <c>Col2Im(wᵀ · gy)</c>. Paddings may be negative (they then crop the input); the output
/// size must be at least 1.
/// </remarks>
internal static partial class ConvKernels
{
    /// <summary>Column-matrix elements at or above which Im2Col/Col2Im run in parallel over channels.</summary>
    internal const int ParallelThreshold = 1 << 16;

    /// <summary>
    /// Convolution output length along one axis: <c>floor((in + padBefore + padAfter - dilation*(kernel-1) - 1) / stride) + 1</c>.
    /// May be zero or negative when the (dilated) kernel does not fit; callers validate.
    /// </summary>
    /// <param name="inSize">Input length along the axis.</param>
    /// <param name="kernel">Kernel length (≥ 1).</param>
    /// <param name="stride">Stride (≥ 1).</param>
    /// <param name="padBefore">Padding before the first element.</param>
    /// <param name="padAfter">Padding after the last element.</param>
    /// <param name="dilation">Dilation (≥ 1).</param>
    /// <returns>The output length (floor division, so a negative numerator gives a value ≤ 0).</returns>
    public static int ConvOutSize(int inSize, int kernel, int stride, int padBefore, int padAfter, int dilation)
    {
        if (kernel < 1 || stride < 1 || dilation < 1)
            throw new ArgumentOutOfRangeException(nameof(kernel),
                $"ConvOutSize: kernel ({kernel}), stride ({stride}) and dilation ({dilation}) must all be >= 1.");
        long numer = (long)inSize + padBefore + padAfter - (long)dilation * (kernel - 1) - 1;
        // Stryker disable once Equality: equivalent: at numer == 0 both branches give 0
        long q = numer >= 0 ? numer / stride : -((-numer + stride - 1) / stride);
        return (int)Math.Max(q + 1, int.MinValue);
    }

    /// <summary>
    /// PyTorch's <c>padding='same'</c> for stride 1: <c>total = dilation*(kernel-1)</c>, <c>before = total/2</c>,
    /// <c>after = total - before</c> (the extra element, if any, goes after).
    /// </summary>
    /// <param name="kernel">Kernel length (≥ 1).</param>
    /// <param name="dilation">Dilation (≥ 1).</param>
    /// <returns>Padding before and after along the axis.</returns>
    public static (int Before, int After) SamePadding(int kernel, int dilation)
    {
        if (kernel < 1 || dilation < 1)
            throw new ArgumentOutOfRangeException(nameof(kernel),
                $"SamePadding: kernel ({kernel}) and dilation ({dilation}) must be >= 1.");
        int total = dilation * (kernel - 1);
        int before = total / 2;
        return (before, total - before);
    }

    /// <summary>
    /// Unfolds one image <c>src[C, H, W]</c> into <c>dst[C*kernelH*kernelW, outH*outW]</c> (row-major), with
    /// <c>outH = ConvOutSize(H, kernelH, strideH, padTop, padBottom, dilationH)</c> and likewise <c>outW</c>:
    /// <c>dst[(c*kernelH + i)*kernelW + j, oh*outW + ow] = src[c, oh*strideH - padTop + i*dilationH,
    /// ow*strideW - padLeft + j*dilationW]</c>, or 0 where that position is padding. Every element of
    /// <c>dst</c> is written. Runs in parallel over channels when the column matrix is large.
    /// </summary>
    /// <typeparam name="T">Element type (float or double).</typeparam>
    /// <param name="src">Image <c>[channels, height, width]</c>, at least <c>C*H*W</c> elements.</param>
    /// <param name="channels">C.</param>
    /// <param name="height">H.</param>
    /// <param name="width">W.</param>
    /// <param name="kernelH">Kernel height.</param>
    /// <param name="kernelW">Kernel width.</param>
    /// <param name="strideH">Vertical stride.</param>
    /// <param name="strideW">Horizontal stride.</param>
    /// <param name="padTop">Rows of zero padding above.</param>
    /// <param name="padLeft">Columns of zero padding to the left.</param>
    /// <param name="padBottom">Rows of zero padding below.</param>
    /// <param name="padRight">Columns of zero padding to the right.</param>
    /// <param name="dilationH">Vertical dilation.</param>
    /// <param name="dilationW">Horizontal dilation.</param>
    /// <param name="dst">Columns <c>[C*kernelH*kernelW, outH*outW]</c>, at least that many elements.</param>
    public static void Im2Col<T>(ReadOnlySpan<T> src, int channels, int height, int width,
        int kernelH, int kernelW, int strideH, int strideW,
        int padTop, int padLeft, int padBottom, int padRight,
        int dilationH, int dilationW, Span<T> dst)
        where T : unmanaged, INumber<T>
    {
        var g = ColGeometry.Create("Im2Col", channels, height, width, kernelH, kernelW, strideH, strideW,
            padTop, padLeft, padBottom, padRight, dilationH, dilationW);
        g.CheckLengths("Im2Col", src.Length, "src", dst.Length, "dst");
        // Stryker disable once Equality,Logical,Boolean,Unary: speed only: the workers run the same per-channel code, so either path writes the same bits
        if (g.Channels > 1 && g.ColsLength >= ParallelThreshold && Environment.ProcessorCount > 1 && !WorkerPool.InsideRegion)
        {
            unsafe
            {
                fixed (T* ps = src)
                fixed (T* pd = dst)
                    WorkerPool.For(g.Channels, new ChannelJob<T>(ps, pd, g, adjoint: false));
            }
            // Stryker disable once Statement: equivalent: without the return the serial loop writes every entry again with the same values
            return;
        }
        for (int c = 0; c < g.Channels; c++)
            Im2ColChannel(src.Slice(c * g.PlaneIn, g.PlaneIn), dst.Slice(c * g.ColsPerChannel, g.ColsPerChannel), g);
    }

    /// <summary>
    /// Adjoint of <see cref="Im2Col{T}"/>: folds <c>cols[C*kernelH*kernelW, outH*outW]</c> back onto an image
    /// by accumulation, <c>dst[c, ih, iw] += cols[(c*kernelH + i)*kernelW + j, oh*outW + ow]</c> for every
    /// (i, j, oh, ow) with <c>ih = oh*strideH - padTop + i*dilationH</c>, <c>iw = ow*strideW - padLeft +
    /// j*dilationW</c> inside the image (column entries that fall into padding are dropped). Used for conv input
    /// gradients and transposed-conv forward. Same geometry parameters as <see cref="Im2Col{T}"/>.
    /// Runs in parallel over channels when large.
    /// </summary>
    /// <typeparam name="T">Element type (float or double).</typeparam>
    /// <param name="cols">Columns <c>[C*kernelH*kernelW, outH*outW]</c>.</param>
    /// <param name="channels">C.</param>
    /// <param name="height">H of the image.</param>
    /// <param name="width">W of the image.</param>
    /// <param name="kernelH">Kernel height.</param>
    /// <param name="kernelW">Kernel width.</param>
    /// <param name="strideH">Vertical stride.</param>
    /// <param name="strideW">Horizontal stride.</param>
    /// <param name="padTop">Rows of padding above.</param>
    /// <param name="padLeft">Columns of padding to the left.</param>
    /// <param name="padBottom">Rows of padding below.</param>
    /// <param name="padRight">Columns of padding to the right.</param>
    /// <param name="dilationH">Vertical dilation.</param>
    /// <param name="dilationW">Horizontal dilation.</param>
    /// <param name="dst">Image <c>[C, H, W]</c> accumulated into (<c>+=</c>); clear it first for a plain fold.</param>
    public static void Col2Im<T>(ReadOnlySpan<T> cols, int channels, int height, int width,
        int kernelH, int kernelW, int strideH, int strideW,
        int padTop, int padLeft, int padBottom, int padRight,
        int dilationH, int dilationW, Span<T> dst)
        where T : unmanaged, INumber<T>
    {
        var g = ColGeometry.Create("Col2Im", channels, height, width, kernelH, kernelW, strideH, strideW,
            padTop, padLeft, padBottom, padRight, dilationH, dilationW);
        g.CheckLengths("Col2Im", dst.Length, "dst", cols.Length, "cols");
        // Stryker disable once Equality,Logical,Boolean,Unary: speed only: the workers run the same per-channel code, so either path gives the same bits
        if (g.Channels > 1 && g.ColsLength >= ParallelThreshold && Environment.ProcessorCount > 1 && !WorkerPool.InsideRegion)
        {
            unsafe
            {
                fixed (T* pc = cols)
                fixed (T* pd = dst)
                    WorkerPool.For(g.Channels, new ChannelJob<T>(pc, pd, g, adjoint: true));
            }
            return;
        }
        for (int c = 0; c < g.Channels; c++)
            Col2ImChannel(cols.Slice(c * g.ColsPerChannel, g.ColsPerChannel), dst.Slice(c * g.PlaneIn, g.PlaneIn), g);
    }

    /// <summary>
    /// <see cref="Col2Im{T}"/> for a caller that owns <paramref name="cols"/> as scratch: the same sums into
    /// <paramref name="dst"/> (bit for bit), but column entries that fall into padding may be overwritten with zero,
    /// which lets a geometry with strides 1 and <c>outW == W</c> fold each kernel offset as one contiguous vector add.
    /// Runs on the calling thread.
    /// </summary>
    /// <typeparam name="T">Element type (float or double).</typeparam>
    /// <param name="cols">Columns <c>[C*kernelH*kernelW, outH*outW]</c>; entries in padding are clobbered.</param>
    /// <param name="channels">C.</param>
    /// <param name="height">H of the image.</param>
    /// <param name="width">W of the image.</param>
    /// <param name="kernelH">Kernel height.</param>
    /// <param name="kernelW">Kernel width.</param>
    /// <param name="strideH">Vertical stride.</param>
    /// <param name="strideW">Horizontal stride.</param>
    /// <param name="padTop">Rows of padding above.</param>
    /// <param name="padLeft">Columns of padding to the left.</param>
    /// <param name="padBottom">Rows of padding below.</param>
    /// <param name="padRight">Columns of padding to the right.</param>
    /// <param name="dilationH">Vertical dilation.</param>
    /// <param name="dilationW">Horizontal dilation.</param>
    /// <param name="dst">Image <c>[C, H, W]</c> accumulated into (<c>+=</c>).</param>
    internal static void Col2ImScratch<T>(Span<T> cols, int channels, int height, int width,
        int kernelH, int kernelW, int strideH, int strideW,
        int padTop, int padLeft, int padBottom, int padRight,
        int dilationH, int dilationW, Span<T> dst)
        where T : unmanaged, INumber<T>
    {
        var g = ColGeometry.Create("Col2Im", channels, height, width, kernelH, kernelW, strideH, strideW,
            padTop, padLeft, padBottom, padRight, dilationH, dilationW);
        g.CheckLengths("Col2Im", dst.Length, "dst", cols.Length, "cols");
        for (int c = 0; c < g.Channels; c++)
            Col2ImChannel(cols.Slice(c * g.ColsPerChannel, g.ColsPerChannel), dst.Slice(c * g.PlaneIn, g.PlaneIn), g,
                cols.Slice(c * g.ColsPerChannel, g.ColsPerChannel));
    }

    /// <summary>
    /// Strides 1 with <c>outW == W</c>: column entry <c>oh*outW + ow</c> of one kernel offset reads plane element
    /// <c>oh*outW + ow + delta</c>, so the valid entries from <c>(ohS, owS)</c> to <c>(ohE-1, owE-1)</c> are one
    /// contiguous copy; the entries in that run whose column is padding (<c>ow &lt; owS</c> or <c>ow ≥ owE</c>) and
    /// everything outside it are then zeroed.
    /// </summary>
    private static void Im2ColFlat<T>(ReadOnlySpan<T> plane, Span<T> row, int ohS, int ohE, int owS, int owE, int outW, int delta)
        where T : unmanaged, INumber<T>
    {
        if (ohE <= ohS)
        {
            row.Clear();
            return;
        }
        int c0 = ohS * outW + owS, c1 = (ohE - 1) * outW + owE;
        plane.Slice(c0 + delta, c1 - c0).CopyTo(row.Slice(c0, c1 - c0));
        row.Slice(0, c0).Clear();
        row.Slice(c1).Clear();
        // Stryker disable once Equality: equivalent: the loop only clears empty slices when owS == 0 and owE == outW
        if (owS > 0 || owE < outW)
            for (int oh = ohS; oh < ohE; oh++)
            {
                int r = oh * outW;
                // Stryker disable once Equality: equivalent: at owS == 0 the slice cleared is empty
                if (owS > 0) row.Slice(r, owS).Clear();
                // Stryker disable once Equality: equivalent: at owE == outW the slice cleared is empty
                if (owE < outW) row.Slice(r + owE, outW - owE).Clear();
            }
    }

    /// <summary>
    /// The output indices <c>o</c> in <c>[start, end)</c> (clamped to <c>[0, outSize)</c>) for which
    /// <c>o*stride + offset</c> lies in <c>[0, inSize)</c>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void ValidRange(int outSize, int stride, int offset, int inSize, out int start, out int end)
    {
        // Stryker disable once Equality: equivalent: at offset 0 both branches give 0 ((stride - 1) / stride)
        int s = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
        int e = inSize - offset <= 0 ? 0 : (inSize - offset - 1) / stride + 1;
        // Stryker disable once Equality: equivalent: at e == outSize the assignment keeps the value
        if (e > outSize) e = outSize;
        // Stryker disable once Equality: equivalent: at s == e the assignment keeps the value
        if (s > e) s = e;
        start = s;
        end = e;
    }

    private static void Im2ColChannel<T>(ReadOnlySpan<T> plane, Span<T> block, in ColGeometry g)
        where T : unmanaged, INumber<T>
    {
        int outH = g.OutH, outW = g.OutW, colLen = g.ColLen, w = g.Width, sw = g.StrideW;
        for (int i = 0; i < g.KernelH; i++)
        {
            int rowOff = i * g.DilationH - g.PadTop;
            ValidRange(outH, g.StrideH, rowOff, g.Height, out int ohS, out int ohE);
            for (int j = 0; j < g.KernelW; j++)
            {
                int colOff = j * g.DilationW - g.PadLeft;
                ValidRange(outW, sw, colOff, w, out int owS, out int owE);
                Span<T> row = block.Slice((i * g.KernelW + j) * colLen, colLen);
                if (owE <= owS)
                {
                    row.Clear();
                    continue;
                }
                if (sw == 1 && g.StrideH == 1 && outW == w)
                {
                    Im2ColFlat(plane, row, ohS, ohE, owS, owE, outW, rowOff * w + colOff);
                    // Stryker disable once Statement: equivalent: without the continue the row-by-row code writes the same values again
                    continue;
                }
                // Stryker disable once Equality: equivalent: at ohS == 0 the slice cleared is empty
                if (ohS > 0) row.Slice(0, ohS * outW).Clear();
                // Stryker disable once Equality,Arithmetic: equivalent: clearing from an earlier index (or an empty slice) changes nothing, as the rows ohS..ohE-1 are all written below
                if (ohE < outH) row.Slice(ohE * outW).Clear();
                int n = owE - owS;
                int srcStart0 = owS * sw + colOff;
                for (int oh = ohS; oh < ohE; oh++)
                {
                    Span<T> seg = row.Slice(oh * outW, outW);
                    ReadOnlySpan<T> srcRow = plane.Slice((oh * g.StrideH + rowOff) * w, w);
                    // Stryker disable once Equality: equivalent: at owS == 0 the slice cleared is empty
                    if (owS > 0) seg.Slice(0, owS).Clear();
                    // Stryker disable once Equality: equivalent: at owE == outW the slice cleared is empty
                    if (owE < outW) seg.Slice(owE).Clear();
                    if (sw == 1)
                    {
                        srcRow.Slice(srcStart0, n).CopyTo(seg.Slice(owS, n));
                    }
                    else
                    {
                        // Stryker disable once Arithmetic: safety only: one range check for the strided gather; a weaker check changes nothing for the valid geometries that reach it
                        _ = srcRow[srcStart0 + (n - 1) * sw]; // one range check for the strided gather
                        ref T s = ref Unsafe.Add(ref MemoryMarshal.GetReference(srcRow), srcStart0);
                        ref T d = ref Unsafe.Add(ref MemoryMarshal.GetReference(seg), owS);
                        int t = 0;
                        // Stryker disable once Block: speed only: without the vector de-interleave the scalar loop gathers the same values
                        if (sw == 2 && typeof(T) == typeof(float))
                        {
                            // Vector de-interleave; the loads may run past the row but must stay inside the plane.
                            // Stryker disable once Arithmetic: safety only: the bound keeps the vector loads inside the plane (odd elements loaded are never stored); a smaller one leaves more to the scalar loop
                            int readable = plane.Length - ((oh * g.StrideH + rowOff) * w + srcStart0);
                            t = GatherEvens(ref Unsafe.As<T, float>(ref s), readable, ref Unsafe.As<T, float>(ref d), n);
                        }
                        for (; t < n; t++)
                            Unsafe.Add(ref d, t) = Unsafe.Add(ref s, t * sw);
                    }
                }
            }
        }
    }

    /// <summary>
    /// <c>d[t] = s[2t]</c> for as many leading <c>t &lt; n</c> as whole vectors allow without reading
    /// <c>s[readable]</c> or beyond; returns how many were done.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int GatherEvens(ref float s, int readable, ref float d, int n)
    {
        int t = 0;
        // Stryker disable once Boolean: speed only: without the 256-bit loop the 128-bit and scalar loops do the same gather
        if (Vector256.IsHardwareAccelerated)
            // Stryker disable once Equality,Arithmetic: speed and safety only, as below
            for (; t + 8 <= n && 2 * t + 16 <= readable; t += 8)
                PoolSimd.Evens256(ref s, 2 * t).StoreUnsafe(ref d, (nuint)t);
        // Stryker disable once Boolean: speed only: without the 128-bit loop the scalar loop does the same gather
        if (Vector128.IsHardwareAccelerated)
            // Stryker disable once Equality,Arithmetic: speed and safety only: fewer vector steps leave more to the scalar loop (same values); the readable bound only keeps the loads inside the plane
            for (; t + 4 <= n && 2 * t + 8 <= readable; t += 4)
                PoolSimd.Evens128(ref s, 2 * t).StoreUnsafe(ref d, (nuint)t);
        return t;
    }

    private static void Col2ImChannel<T>(ReadOnlySpan<T> block, Span<T> plane, in ColGeometry g)
        where T : unmanaged, INumber<T>
        => Col2ImChannel(block, plane, g, default);

    /// <summary>One channel of Col2Im; <paramref name="writable"/> (the same memory as <paramref name="block"/>, or
    /// empty) allows the flat stride-1 path, which zeroes the padding entries of each run before one vector add.</summary>
    private static void Col2ImChannel<T>(ReadOnlySpan<T> block, Span<T> plane, in ColGeometry g, Span<T> writable)
        where T : unmanaged, INumber<T>
    {
        int outW = g.OutW, colLen = g.ColLen, w = g.Width, sw = g.StrideW;
        for (int i = 0; i < g.KernelH; i++)
        {
            int rowOff = i * g.DilationH - g.PadTop;
            ValidRange(g.OutH, g.StrideH, rowOff, g.Height, out int ohS, out int ohE);
            for (int j = 0; j < g.KernelW; j++)
            {
                int colOff = j * g.DilationW - g.PadLeft;
                ValidRange(outW, sw, colOff, w, out int owS, out int owE);
                if (owE <= owS) continue;
                ReadOnlySpan<T> row = block.Slice((i * g.KernelW + j) * colLen, colLen);
                if (sw == 1 && g.StrideH == 1 && outW == w && !writable.IsEmpty)
                {
                    if (ohE <= ohS) continue;
                    Span<T> wrow = writable.Slice((i * g.KernelW + j) * colLen, colLen);
                    // Stryker disable once Equality: equivalent: the loop only clears empty slices when owS == 0 and owE == outW
                    if (owS > 0 || owE < outW)
                        for (int oh = ohS; oh < ohE; oh++)
                        {
                            int r = oh * outW;
                            // Stryker disable once Equality: equivalent: at owS == 0 the slice cleared is empty
                            if (owS > 0) wrow.Slice(r, owS).Clear();
                            // Stryker disable once Equality: equivalent: at owE == outW the slice cleared is empty
                            if (owE < outW) wrow.Slice(r + owE, outW - owE).Clear();
                        }
                    int c0 = ohS * outW + owS, len = (ohE - 1) * outW + owE - c0;
                    Span<T> d = plane.Slice(c0 + rowOff * w + colOff, len);
                    TensorPrimitives.Add<T>(d, row.Slice(c0, len), d);
                    continue;
                }
                int n = owE - owS;
                int dstStart0 = owS * sw + colOff;
                for (int oh = ohS; oh < ohE; oh++)
                {
                    ReadOnlySpan<T> seg = row.Slice(oh * outW + owS, n);
                    Span<T> dstRow = plane.Slice((oh * g.StrideH + rowOff) * w, w);
                    if (sw == 1)
                    {
                        Span<T> d = dstRow.Slice(dstStart0, n);
                        // Stryker disable once Equality,Boolean: speed only: the vector and the scalar loop make the same elementwise sums
                        if (n >= 16)
                        {
                            TensorPrimitives.Add<T>(d, seg, d);
                        }
                        else
                        {
                            for (int t = 0; t < d.Length; t++) d[t] += seg[t];
                        }
                    }
                    else
                    {
                        // Stryker disable once Arithmetic: safety only: one range check for the strided scatter; a weaker check changes nothing for the valid geometries that reach it
                        _ = dstRow[dstStart0 + (n - 1) * sw];
                        ref T d = ref Unsafe.Add(ref MemoryMarshal.GetReference(dstRow), dstStart0);
                        ref T s = ref MemoryMarshal.GetReference(seg);
                        for (int t = 0; t < n; t++)
                            Unsafe.Add(ref d, t * sw) += Unsafe.Add(ref s, t);
                    }
                }
            }
        }
    }

    /// <summary>One channel of Im2Col (or Col2Im when <c>adjoint</c>) on pinned buffers, for the workers.</summary>
    private sealed unsafe class ChannelJob<T>(T* input, T* output, ColGeometry g, bool adjoint) : IParallelBody
        where T : unmanaged, INumber<T>
    {
        public void Run(int c)
        {
            if (!adjoint)
            {
                var plane = new ReadOnlySpan<T>(input + (long)c * g.PlaneIn, g.PlaneIn);
                var block = new Span<T>(output + (long)c * g.ColsPerChannel, g.ColsPerChannel);
                Im2ColChannel(plane, block, g);
            }
            else
            {
                var block = new ReadOnlySpan<T>(input + (long)c * g.ColsPerChannel, g.ColsPerChannel);
                var plane = new Span<T>(output + (long)c * g.PlaneIn, g.PlaneIn);
                Col2ImChannel(block, plane, g);
            }
        }
    }

    /// <summary>Validated Im2Col/Col2Im geometry for one image.</summary>
    private readonly struct ColGeometry
    {
        public readonly int Channels, Height, Width, KernelH, KernelW, StrideH, StrideW;
        public readonly int PadTop, PadLeft, PadBottom, PadRight, DilationH, DilationW, OutH, OutW;
        public readonly int PlaneIn, ColLen, ColsPerChannel, ColsLength;

        private ColGeometry(int c, int h, int w, int kh, int kw, int sh, int sw, int pt, int pl, int pb, int pr,
            int dh, int dw, int oh, int ow)
        {
            Channels = c; Height = h; Width = w; KernelH = kh; KernelW = kw; StrideH = sh; StrideW = sw;
            PadTop = pt; PadLeft = pl; PadBottom = pb; PadRight = pr; DilationH = dh; DilationW = dw;
            OutH = oh; OutW = ow;
            PlaneIn = h * w;
            ColLen = oh * ow;
            ColsPerChannel = kh * kw * ColLen;
            ColsLength = c * ColsPerChannel;
        }

        public static ColGeometry Create(string op, int c, int h, int w, int kh, int kw, int sh, int sw,
            int pt, int pl, int pb, int pr, int dh, int dw)
        {
            if (c < 1 || h < 1 || w < 1)
                throw new ShapeMismatchException($"{op}: image [C={c}, H={h}, W={w}] must have positive dimensions.");
            if (kh < 1 || kw < 1 || sh < 1 || sw < 1 || dh < 1 || dw < 1)
                throw new ArgumentOutOfRangeException(nameof(kh),
                    $"{op}: kernel ({kh}x{kw}), stride ({sh}x{sw}) and dilation ({dh}x{dw}) must all be >= 1.");
            int oh = ConvOutSize(h, kh, sh, pt, pb, dh);
            int ow = ConvOutSize(w, kw, sw, pl, pr, dw);
            if (oh < 1 || ow < 1)
                throw new ShapeMismatchException(
                    $"{op}: image [C={c}, H={h}, W={w}] with kernel {kh}x{kw}, stride {sh}x{sw}, padding " +
                    $"(top {pt}, left {pl}, bottom {pb}, right {pr}), dilation {dh}x{dw} gives an empty output {oh}x{ow}.");
            long colsLength = (long)c * kh * kw * oh * ow;
            if (colsLength > int.MaxValue || (long)c * h * w > int.MaxValue)
                throw new ShapeMismatchException(
                    $"{op}: image [C={c}, H={h}, W={w}] with kernel {kh}x{kw} needs {colsLength} column elements, more than a span holds.");
            return new ColGeometry(c, h, w, kh, kw, sh, sw, pt, pl, pb, pr, dh, dw, oh, ow);
        }

        public void CheckLengths(string op, int imageLength, string imageName, int colsLength, string colsName)
        {
            if (imageLength < Channels * PlaneIn)
                throw new ShapeMismatchException(
                    $"{op}: {imageName} has {imageLength} elements, image [C={Channels}, H={Height}, W={Width}] needs {Channels * PlaneIn}.");
            if (colsLength < ColsLength)
                throw new ShapeMismatchException(
                    $"{op}: {colsName} has {colsLength} elements, columns [{Channels * KernelH * KernelW}, {OutH * OutW}] " +
                    $"(kernel {KernelH}x{KernelW}, output {OutH}x{OutW}) need {ColsLength}.");
        }
    }
}
