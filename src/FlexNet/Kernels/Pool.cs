// Over 400 lines on purpose: the pooling geometry and max/average/global pooling forward and backward, each with an
// interior fast path and a border path that share that geometry.
using System.Buffers;
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace FlexNet.Kernels;

/// <summary>
/// Validated geometry of a 2-d pooling window over planes <c>[InH, InW]</c> (PyTorch semantics): symmetric
/// padding <c>PadH</c>/<c>PadW</c> per dimension (at most half the effective kernel), dilation (max pooling
/// only), and <c>ceil_mode</c>. Output size per dimension:
/// <c>out = floor_or_ceil((in + 2*pad - dilation*(kernel-1) - 1) / stride) + 1</c>, and in ceil mode the last
/// window must start inside the input or the left padding (else <c>out</c> is reduced by one).
/// 1-d pooling over <c>[L]</c> is <c>InH = 1</c> (see <see cref="For1d"/>).
/// </summary>
internal readonly struct PoolGeometry
{
    /// <summary>Input plane height.</summary>
    public readonly int InH;
    /// <summary>Input plane width.</summary>
    public readonly int InW;
    /// <summary>Window height.</summary>
    public readonly int KernelH;
    /// <summary>Window width.</summary>
    public readonly int KernelW;
    /// <summary>Vertical stride.</summary>
    public readonly int StrideH;
    /// <summary>Horizontal stride.</summary>
    public readonly int StrideW;
    /// <summary>Rows of padding on top and on the bottom.</summary>
    public readonly int PadH;
    /// <summary>Columns of padding on the left and on the right.</summary>
    public readonly int PadW;
    /// <summary>Vertical dilation.</summary>
    public readonly int DilationH;
    /// <summary>Horizontal dilation.</summary>
    public readonly int DilationW;
    /// <summary>Whether the output size is rounded up (PyTorch <c>ceil_mode</c>).</summary>
    public readonly bool CeilMode;
    /// <summary>Output plane height.</summary>
    public readonly int OutH;
    /// <summary>Output plane width.</summary>
    public readonly int OutW;

    /// <summary>Creates and validates a pooling geometry (throws on invalid hyper-parameters or an empty output).</summary>
    /// <param name="inH">Input height (≥ 1).</param>
    /// <param name="inW">Input width (≥ 1).</param>
    /// <param name="kernelH">Window height (≥ 1).</param>
    /// <param name="kernelW">Window width (≥ 1).</param>
    /// <param name="strideH">Vertical stride (≥ 1; PyTorch's default is the kernel size).</param>
    /// <param name="strideW">Horizontal stride (≥ 1).</param>
    /// <param name="padH">Symmetric vertical padding, 0 ≤ padH ≤ (dilationH*(kernelH-1)+1)/2.</param>
    /// <param name="padW">Symmetric horizontal padding, 0 ≤ padW ≤ (dilationW*(kernelW-1)+1)/2.</param>
    /// <param name="dilationH">Vertical dilation (≥ 1; average pooling requires 1).</param>
    /// <param name="dilationW">Horizontal dilation (≥ 1; average pooling requires 1).</param>
    /// <param name="ceilMode">PyTorch <c>ceil_mode</c>.</param>
    public PoolGeometry(int inH, int inW, int kernelH, int kernelW, int strideH, int strideW, int padH, int padW,
        int dilationH = 1, int dilationW = 1, bool ceilMode = false)
    {
        if (inH < 1 || inW < 1)
            throw new ShapeMismatchException($"Pool: input plane [H={inH}, W={inW}] must have positive dimensions.");
        if (kernelH < 1 || kernelW < 1 || strideH < 1 || strideW < 1 || dilationH < 1 || dilationW < 1)
            throw new ArgumentOutOfRangeException(nameof(kernelH),
                $"Pool: kernel ({kernelH}x{kernelW}), stride ({strideH}x{strideW}) and dilation ({dilationH}x{dilationW}) must all be >= 1.");
        if (padH < 0 || padW < 0
            || padH > (dilationH * (kernelH - 1) + 1) / 2 || padW > (dilationW * (kernelW - 1) + 1) / 2)
            throw new ArgumentOutOfRangeException(nameof(padH),
                $"Pool: padding ({padH}x{padW}) must be >= 0 and at most half the effective kernel " +
                $"({dilationH * (kernelH - 1) + 1}x{dilationW * (kernelW - 1) + 1}).");
        InH = inH; InW = inW; KernelH = kernelH; KernelW = kernelW; StrideH = strideH; StrideW = strideW;
        PadH = padH; PadW = padW; DilationH = dilationH; DilationW = dilationW; CeilMode = ceilMode;
        OutH = PoolKernels.PoolOutSize(inH, kernelH, strideH, padH, dilationH, ceilMode);
        OutW = PoolKernels.PoolOutSize(inW, kernelW, strideW, padW, dilationW, ceilMode);
        if (OutH < 1 || OutW < 1)
            throw new ShapeMismatchException(
                $"Pool: input plane [H={inH}, W={inW}] with kernel {kernelH}x{kernelW}, stride {strideH}x{strideW}, " +
                $"padding {padH}x{padW}, dilation {dilationH}x{dilationW} gives an empty output {OutH}x{OutW}.");
        if ((long)inH * inW > int.MaxValue || (long)OutH * OutW > int.MaxValue)
            throw new ShapeMismatchException($"Pool: plane [H={inH}, W={inW}] is too large for a span.");
    }

    /// <summary>1-d pooling over sequences of length <paramref name="inLength"/> (the plane is <c>[1, inLength]</c>).</summary>
    /// <param name="inLength">Input length L.</param>
    /// <param name="kernel">Window length.</param>
    /// <param name="stride">Stride.</param>
    /// <param name="pad">Symmetric padding.</param>
    /// <param name="dilation">Dilation.</param>
    /// <param name="ceilMode">PyTorch <c>ceil_mode</c>.</param>
    /// <returns>The geometry with <c>InH = OutH = 1</c>.</returns>
    public static PoolGeometry For1d(int inLength, int kernel, int stride, int pad = 0, int dilation = 1, bool ceilMode = false)
        => new(1, inLength, 1, kernel, 1, stride, 0, pad, 1, dilation, ceilMode);

    /// <summary>Elements per input plane, <c>InH*InW</c>.</summary>
    public int InPlane => InH * InW;

    /// <summary>Elements per output plane, <c>OutH*OutW</c>.</summary>
    public int OutPlane => OutH * OutW;

    /// <summary>Readable form for messages.</summary>
    /// <returns>The hyper-parameters and sizes.</returns>
    public override string ToString() =>
        $"in {InH}x{InW}, kernel {KernelH}x{KernelW}, stride {StrideH}x{StrideW}, pad {PadH}x{PadW}, " +
        $"dilation {DilationH}x{DilationW}, ceil {CeilMode}, out {OutH}x{OutW}";
}

/// <summary>
/// Pooling kernels over <c>planes = N*C</c> contiguous planes (PyTorch layout <c>[N, C, H, W]</c>; 1-d is
/// <c>H = 1</c>). Backward kernels accumulate (<c>+=</c>) into the input gradient. Large inputs run in
/// parallel over planes; results do not depend on the core count.
/// </summary>
internal static class PoolKernels
{
    /// <summary>Work (input elements) at or above which pooling runs in parallel over planes.</summary>
    internal const int ParallelThreshold = 1 << 15;

    /// <summary>
    /// PyTorch's pooling output length: <c>o = floor((in + 2*pad - dilation*(kernel-1) - 1 [+ stride-1 if ceil]) / stride) + 1</c>;
    /// in ceil mode, if <c>(o-1)*stride ≥ in + pad</c> (last window would start in the right padding) then <c>o -= 1</c>.
    /// </summary>
    /// <param name="inSize">Input length.</param>
    /// <param name="kernel">Window length.</param>
    /// <param name="stride">Stride.</param>
    /// <param name="pad">Symmetric padding.</param>
    /// <param name="dilation">Dilation.</param>
    /// <param name="ceilMode">Round up instead of down.</param>
    /// <returns>The output length (≤ 0 when the window does not fit).</returns>
    public static int PoolOutSize(int inSize, int kernel, int stride, int pad, int dilation, bool ceilMode)
    {
        if (kernel < 1 || stride < 1 || dilation < 1)
            throw new ArgumentOutOfRangeException(nameof(kernel),
                $"PoolOutSize: kernel ({kernel}), stride ({stride}) and dilation ({dilation}) must all be >= 1.");
        long numer = (long)inSize + 2L * pad - (long)dilation * (kernel - 1) - 1 + (ceilMode ? stride - 1 : 0);
        // Stryker disable once Equality: equivalent: at numer == 0 both branches give 0
        long o = (numer >= 0 ? numer / stride : -((-numer + stride - 1) / stride)) + 1;
        // Stryker disable once Logical,Equality: equivalent: at o == 1 the window starts at 0, and without ceil mode the last window cannot start in the right padding (padding is at most half the effective kernel)
        if (ceilMode && o >= 1 && (o - 1) * stride >= (long)inSize + pad) o--;
        return (int)Math.Max(o, int.MinValue);
    }

    /// <summary>
    /// Max pooling forward: <c>y[p, oh, ow] = max over the window of x[p, ih, iw]</c> with padding treated as
    /// <c>-∞</c>, <c>ih = oh*strideH - padH + i*dilationH</c>, <c>iw = ow*strideW - padW + j*dilationW</c>;
    /// <c>indices[p, oh, ow] = ih*InW + iw</c> of the maximum within the input plane (first maximum in
    /// row-major window order; NaN propagates; if every element is -∞ the window's first input element; -1 if
    /// the window holds no input element, which only a dilated window can do).
    /// </summary>
    /// <typeparam name="T">float or double.</typeparam>
    /// <param name="x">Input <c>[planes, InH, InW]</c>.</param>
    /// <param name="planes">Number of planes (N*C).</param>
    /// <param name="g">Window geometry.</param>
    /// <param name="y">Output <c>[planes, OutH, OutW]</c>.</param>
    /// <param name="indices">Argmax indices <c>[planes, OutH, OutW]</c> into each input plane.</param>
    public static void MaxPool2dForward<T>(ReadOnlySpan<T> x, int planes, in PoolGeometry g, Span<T> y, Span<int> indices)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckIn("MaxPool2dForward", planes, g, x.Length, "x");
        CheckOut("MaxPool2dForward", planes, g, y.Length, "y");
        CheckOut("MaxPool2dForward", planes, g, indices.Length, "indices");
        // Stryker disable once Boolean: speed only: the workers run the same per-plane code, so either path gives the same bits
        if (UseParallel(planes, g))
        {
            unsafe
            {
                fixed (T* px = x)
                fixed (T* py = y)
                fixed (int* pi = indices)
                    // Stryker disable once Boolean: equivalent: the count-padding flag is not read by max pooling
                    RunParallel(new PlaneJob<T>(Op.MaxForward, px, py, pi, g, true, 0, planes));
            }
            // Stryker disable once Statement: equivalent: the serial loop writes the same outputs and indices again
            return;
        }
        for (int p = 0; p < planes; p++)
            MaxForwardPlane(x.Slice(p * g.InPlane, g.InPlane), y.Slice(p * g.OutPlane, g.OutPlane),
                indices.Slice(p * g.OutPlane, g.OutPlane), g);
    }

    /// <summary>
    /// Max pooling backward: scatter-adds the output gradient through the argmax indices,
    /// <c>gx[p, indices[p, o]] += gy[p, o]</c> (entries with index -1 are skipped).
    /// </summary>
    /// <typeparam name="T">float or double.</typeparam>
    /// <param name="gy">Output gradient <c>[planes, OutH, OutW]</c>.</param>
    /// <param name="indices">Indices from <see cref="MaxPool2dForward{T}"/>.</param>
    /// <param name="planes">Number of planes (N*C).</param>
    /// <param name="g">Window geometry used in the forward pass.</param>
    /// <param name="gx">Input gradient <c>[planes, InH, InW]</c>, accumulated into.</param>
    /// <param name="overwrite">When true, each plane of <paramref name="gx"/> is set to zero first (its old contents,
    /// even NaN, are ignored), so the caller need not clear the whole gradient in a pass of its own.</param>
    public static void MaxPool2dBackward<T>(ReadOnlySpan<T> gy, ReadOnlySpan<int> indices, int planes, in PoolGeometry g, Span<T> gx,
        bool overwrite = false)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckIn("MaxPool2dBackward", planes, g, gx.Length, "gx");
        CheckOut("MaxPool2dBackward", planes, g, gy.Length, "gy");
        CheckOut("MaxPool2dBackward", planes, g, indices.Length, "indices");
        // Stryker disable once Boolean: speed only: the workers run the same per-plane code, so either path gives the same bits
        if (UseParallel(planes, g))
        {
            unsafe
            {
                fixed (T* pgy = gy)
                fixed (T* pgx = gx)
                fixed (int* pi = indices)
                    // Stryker disable once Boolean: equivalent: the count-padding flag is not read by max pooling
                    RunParallel(new PlaneJob<T>(Op.MaxBackward, pgy, pgx, pi, g, true, 0, planes, overwrite));
            }
            return;
        }
        if (overwrite && IsDisjoint2x2(g))
        {
            for (int p = 0; p < planes; p++)
                MaxBackwardPlane2x2(gy.Slice(p * g.OutPlane, g.OutPlane), indices.Slice(p * g.OutPlane, g.OutPlane),
                    gx.Slice(p * g.InPlane, g.InPlane), g);
            // Stryker disable once Statement: equivalent: clearing and scatter-adding after the 2x2 path gives the same bits (the 2x2 path writes 0 + gy)
            return;
        }
        if (overwrite) gx.Slice(0, planes * g.InPlane).Clear();
        for (int p = 0; p < planes; p++)
            MaxBackwardPlane(gy.Slice(p * g.OutPlane, g.OutPlane), indices.Slice(p * g.OutPlane, g.OutPlane),
                gx.Slice(p * g.InPlane, g.InPlane), g.InPlane);
    }

    /// <summary>
    /// Average pooling forward (PyTorch <c>avg_pool2d</c>): <c>y[p, oh, ow] = Σ_window x / divisor</c>, where the
    /// window is <c>[oh*strideH - padH, +KernelH) × [ow*strideW - padW, +KernelW)</c> clipped to the padded
    /// plane <c>[-pad, in + pad)</c> (size <c>poolSize</c>) and the sum runs over its input elements (count
    /// <c>n</c>); <c>divisor = divisorOverride</c> if &gt; 0, else <c>poolSize</c> if
    /// <paramref name="countIncludePad"/>, else <c>n</c>. Requires dilation 1.
    /// </summary>
    /// <typeparam name="T">float or double.</typeparam>
    /// <param name="x">Input <c>[planes, InH, InW]</c>.</param>
    /// <param name="planes">Number of planes (N*C).</param>
    /// <param name="g">Window geometry (dilation must be 1).</param>
    /// <param name="countIncludePad">Count padding elements in the divisor (PyTorch default true).</param>
    /// <param name="divisorOverride">If &gt; 0, the divisor for every window; 0 means none.</param>
    /// <param name="y">Output <c>[planes, OutH, OutW]</c>.</param>
    public static void AvgPool2dForward<T>(ReadOnlySpan<T> x, int planes, in PoolGeometry g, bool countIncludePad,
        int divisorOverride, Span<T> y)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckAvg("AvgPool2dForward", g, divisorOverride);
        CheckIn("AvgPool2dForward", planes, g, x.Length, "x");
        CheckOut("AvgPool2dForward", planes, g, y.Length, "y");
        // Stryker disable once Boolean: speed only: the workers run the same per-plane code, so either path gives the same bits
        if (UseParallel(planes, g))
        {
            unsafe
            {
                fixed (T* px = x)
                fixed (T* py = y)
                    RunParallel(new PlaneJob<T>(Op.AvgForward, px, py, null, g, countIncludePad, divisorOverride, planes));
            }
            // Stryker disable once Statement: equivalent: the serial loop writes the same outputs again
            return;
        }
        for (int p = 0; p < planes; p++)
            AvgForwardPlane(x.Slice(p * g.InPlane, g.InPlane), y.Slice(p * g.OutPlane, g.OutPlane), g, countIncludePad,
                divisorOverride);
    }

    /// <summary>
    /// Average pooling backward: <c>gx[p, ih, iw] += gy[p, oh, ow] / divisor</c> for every input element of
    /// every window (same windows and divisors as <see cref="AvgPool2dForward{T}"/>).
    /// </summary>
    /// <typeparam name="T">float or double.</typeparam>
    /// <param name="gy">Output gradient <c>[planes, OutH, OutW]</c>.</param>
    /// <param name="planes">Number of planes (N*C).</param>
    /// <param name="g">Window geometry used in the forward pass.</param>
    /// <param name="countIncludePad">As in the forward pass.</param>
    /// <param name="divisorOverride">As in the forward pass.</param>
    /// <param name="gx">Input gradient <c>[planes, InH, InW]</c>, accumulated into.</param>
    public static void AvgPool2dBackward<T>(ReadOnlySpan<T> gy, int planes, in PoolGeometry g, bool countIncludePad,
        int divisorOverride, Span<T> gx)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckAvg("AvgPool2dBackward", g, divisorOverride);
        CheckIn("AvgPool2dBackward", planes, g, gx.Length, "gx");
        CheckOut("AvgPool2dBackward", planes, g, gy.Length, "gy");
        // Stryker disable once Boolean: speed only: the workers run the same per-plane code, so either path gives the same bits
        if (UseParallel(planes, g))
        {
            unsafe
            {
                fixed (T* pgy = gy)
                fixed (T* pgx = gx)
                    RunParallel(new PlaneJob<T>(Op.AvgBackward, pgy, pgx, null, g, countIncludePad, divisorOverride, planes));
            }
            return;
        }
        for (int p = 0; p < planes; p++)
            AvgBackwardPlane(gy.Slice(p * g.OutPlane, g.OutPlane), gx.Slice(p * g.InPlane, g.InPlane), g, countIncludePad,
                divisorOverride);
    }

    /// <summary>Global average pooling forward: <c>y[p] = (1/size) Σ_i x[p, i]</c> over each plane of <c>size = H*W</c>.</summary>
    /// <typeparam name="T">float or double.</typeparam>
    /// <param name="x">Input <c>[planes, size]</c>.</param>
    /// <param name="planes">Number of planes (N*C).</param>
    /// <param name="size">Elements per plane (H*W, or L).</param>
    /// <param name="y">Output <c>[planes]</c>.</param>
    public static void GlobalAvgPoolForward<T>(ReadOnlySpan<T> x, int planes, int size, Span<T> y)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckGlobal("GlobalAvgPoolForward", planes, size, x.Length, "x", y.Length, "y");
        T n = T.CreateChecked(size);
        for (int p = 0; p < planes; p++)
            y[p] = TensorPrimitives.Sum(x.Slice(p * size, size)) / n;
    }

    /// <summary>Global average pooling backward: <c>gx[p, i] += gy[p] / size</c>.</summary>
    /// <typeparam name="T">float or double.</typeparam>
    /// <param name="gy">Output gradient <c>[planes]</c>.</param>
    /// <param name="planes">Number of planes (N*C).</param>
    /// <param name="size">Elements per plane.</param>
    /// <param name="gx">Input gradient <c>[planes, size]</c>, accumulated into.</param>
    public static void GlobalAvgPoolBackward<T>(ReadOnlySpan<T> gy, int planes, int size, Span<T> gx)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckGlobal("GlobalAvgPoolBackward", planes, size, gx.Length, "gx", gy.Length, "gy");
        T n = T.CreateChecked(size);
        for (int p = 0; p < planes; p++)
        {
            Span<T> plane = gx.Slice(p * size, size);
            TensorPrimitives.Add(plane, gy[p] / n, plane);
        }
    }

    /// <summary>
    /// Global max pooling forward: <c>y[p] = max_i x[p, i]</c>, <c>indices[p]</c> = its position in the plane
    /// (first maximum; NaN propagates; 0 if every element is -∞).
    /// </summary>
    /// <typeparam name="T">float or double.</typeparam>
    /// <param name="x">Input <c>[planes, size]</c>.</param>
    /// <param name="planes">Number of planes (N*C).</param>
    /// <param name="size">Elements per plane (H*W, or L).</param>
    /// <param name="y">Output <c>[planes]</c>.</param>
    /// <param name="indices">Argmax per plane <c>[planes]</c>.</param>
    public static void GlobalMaxPoolForward<T>(ReadOnlySpan<T> x, int planes, int size, Span<T> y, Span<int> indices)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckGlobal("GlobalMaxPoolForward", planes, size, x.Length, "x", y.Length, "y");
        CheckPerPlane("GlobalMaxPoolForward", planes, indices.Length, "indices");
        for (int p = 0; p < planes; p++)
        {
            ReadOnlySpan<T> plane = x.Slice(p * size, size);
            T best = T.NegativeInfinity;
            int arg = 0;
            for (int i = 0; i < plane.Length; i++)
            {
                T v = plane[i];
                if (v > best || T.IsNaN(v)) { best = v; arg = i; }
            }
            y[p] = best;
            indices[p] = arg;
        }
    }

    /// <summary>Global max pooling backward: <c>gx[p, indices[p]] += gy[p]</c> (index -1 skipped).</summary>
    /// <typeparam name="T">float or double.</typeparam>
    /// <param name="gy">Output gradient <c>[planes]</c>.</param>
    /// <param name="indices">Indices from <see cref="GlobalMaxPoolForward{T}"/>.</param>
    /// <param name="planes">Number of planes (N*C).</param>
    /// <param name="size">Elements per plane.</param>
    /// <param name="gx">Input gradient <c>[planes, size]</c>, accumulated into.</param>
    public static void GlobalMaxPoolBackward<T>(ReadOnlySpan<T> gy, ReadOnlySpan<int> indices, int planes, int size, Span<T> gx)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckGlobal("GlobalMaxPoolBackward", planes, size, gx.Length, "gx", gy.Length, "gy");
        CheckPerPlane("GlobalMaxPoolBackward", planes, indices.Length, "indices");
        for (int p = 0; p < planes; p++)
        {
            int i = indices[p];
            if (i < 0) continue;
            if (i >= size)
                throw new ArgumentOutOfRangeException(nameof(indices),
                    $"GlobalMaxPoolBackward: index {i} of plane {p} is outside the plane of {size} elements.");
            gx[p * size + i] += gy[p];
        }
    }

    // ---------------------------------------------------------------- per-plane workers

    /// <summary>
    /// Outputs <c>[lo, hi)</c> whose whole (dilated) window <c>o*stride - pad + [0, (kernel-1)*dilation]</c> lies
    /// inside <c>[0, inSize)</c>; outputs outside that range are border outputs.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void InteriorRange(int outSize, int stride, int pad, int kernel, int dilation, int inSize, out int lo, out int hi)
    {
        // Stryker disable once Arithmetic: speed only: a smaller interior leaves more outputs to the border code, which computes the same values
        int l = (pad + stride - 1) / stride;
        // Stryker disable once Arithmetic: speed only: a smaller interior leaves more outputs to the border code, which computes the same values
        int num = inSize - 1 - (kernel - 1) * dilation + pad;
        // Stryker disable once Equality,Conditional: speed only: a smaller interior leaves more outputs to the border code, which computes the same values
        int h = num < 0 ? 0 : num / stride + 1;
        // Stryker disable once Equality: equivalent: at h == outSize the assignment keeps the value
        if (h > outSize) h = outSize;
        // Stryker disable once Equality: equivalent: at l == h the assignment keeps the value
        if (l > h) l = h;
        lo = l;
        hi = h;
    }

    private static void MaxForwardPlane<T>(ReadOnlySpan<T> x, Span<T> y, Span<int> idx, in PoolGeometry g)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        // Stryker disable once Equality: speed only: the callers pass exact planes, and the scalar code gives the same results
        if (typeof(T) == typeof(float) && x.Length >= g.InPlane && y.Length >= g.OutPlane && idx.Length >= g.OutPlane
            && PoolSimd.MaxPlane2x2(ref Unsafe.As<T, float>(ref MemoryMarshal.GetReference(x)), g,
                ref Unsafe.As<T, float>(ref MemoryMarshal.GetReference(y)), ref MemoryMarshal.GetReference(idx)))
            // Stryker disable once Statement: equivalent: the scalar code below writes the same values and indices again
            return;
        int inW = g.InW, outW = g.OutW, kw = g.KernelW, sw = g.StrideW, dh = g.DilationH, dw = g.DilationW;
        InteriorRange(outW, sw, g.PadW, kw, dw, inW, out int owLo, out int owHi);
        ref T xr = ref MemoryMarshal.GetReference(x);
        for (int oh = 0; oh < g.OutH; oh++)
        {
            int hStart = oh * g.StrideH - g.PadH;
            ConvKernels.ValidRange(g.KernelH, dh, hStart, g.InH, out int kiS, out int kiE);
            Span<T> yRow = y.Slice(oh * outW, outW);
            Span<int> iRow = idx.Slice(oh * outW, outW);
            int lo = owLo, hi = owHi;
            if (kiS >= kiE) lo = hi = outW; // no input row in these windows: every output is a border output (index -1)
            for (int ow = 0; ow < lo; ow++)
                MaxBorder(x, g, hStart, kiS, kiE, ow, out yRow[ow], out iRow[ow]);
            // Interior columns: no clamping, no bounds checks (positions are in range by construction).
            int done = lo;
            // Stryker disable once Equality: speed only: the vector row or the scalar loop finds the same maxima
            if (typeof(T) == typeof(float) && hi > lo)
                done = PoolSimd.MaxRow(ref Unsafe.As<T, float>(ref xr), x.Length, g, hStart, kiS, kiE, lo, hi,
                    ref Unsafe.As<T, float>(ref MemoryMarshal.GetReference(yRow)), ref MemoryMarshal.GetReference(iRow));
            for (int ow = done; ow < hi; ow++)
            {
                int wStart = ow * sw - g.PadW;
                T best = T.NegativeInfinity;
                // Stryker disable once Arithmetic: equivalent: interior rows have kiS == 0
                int arg = (hStart + kiS * dh) * inW + wStart;
                for (int ki = kiS; ki < kiE; ki++)
                {
                    int pos = (hStart + ki * dh) * inW + wStart;
                    for (int kj = 0; kj < kw; kj++, pos += dw)
                    {
                        T v = Unsafe.Add(ref xr, pos);
                        if (v > best || T.IsNaN(v)) { best = v; arg = pos; }
                    }
                }
                yRow[ow] = best;
                iRow[ow] = arg;
            }
            // Stryker disable once Linq: equivalent: starting earlier only recomputes interior outputs with the border code, which gives the same values and indices
            for (int ow = Math.Max(hi, lo); ow < outW; ow++)
                MaxBorder(x, g, hStart, kiS, kiE, ow, out yRow[ow], out iRow[ow]);
        }
    }

    private static void MaxBorder<T>(ReadOnlySpan<T> x, in PoolGeometry g, int hStart, int kiS, int kiE, int ow, out T y, out int index)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int inW = g.InW, dh = g.DilationH, dw = g.DilationW;
        int wStart = ow * g.StrideW - g.PadW;
        ConvKernels.ValidRange(g.KernelW, dw, wStart, inW, out int kjS, out int kjE);
        T best = T.NegativeInfinity;
        // PyTorch: the index starts at the first input element of the window (kept if all are -inf).
        int arg = kiS < kiE && kjS < kjE ? (hStart + kiS * dh) * inW + wStart + kjS * dw : -1;
        for (int ki = kiS; ki < kiE; ki++)
        {
            int rowBase = (hStart + ki * dh) * inW + wStart;
            for (int kj = kjS; kj < kjE; kj++)
            {
                int pos = rowBase + kj * dw;
                T v = x[pos];
                if (v > best || T.IsNaN(v)) { best = v; arg = pos; }
            }
        }
        y = best;
        index = arg;
    }

    /// <summary>Disjoint 2x2 windows at stride 2 without padding or dilation, all inside the plane (not in ceil mode's
    /// overhanging last row or column): the geometry of <see cref="MaxBackwardPlane2x2{T}"/>.</summary>
    private static bool IsDisjoint2x2(in PoolGeometry g) =>
        g.KernelH == 2 && g.KernelW == 2 && g.StrideH == 2 && g.StrideW == 2 && g.PadH == 0 && g.PadW == 0
        && g.DilationH == 1 && g.DilationW == 1 && 2 * g.OutH <= g.InH && 2 * g.OutW <= g.InW;

    /// <summary>
    /// Overwriting backward of one plane for a geometry of <see cref="IsDisjoint2x2"/>: every input element is written
    /// once, <c>0 + gy[o]</c> at its window's argmax and 0 elsewhere (also in a last odd row or column no window covers),
    /// the same bits as clearing the plane and scatter-adding. An index that is not one of its window's four positions
    /// throws.
    /// </summary>
    private static void MaxBackwardPlane2x2<T>(ReadOnlySpan<T> gy, ReadOnlySpan<int> idx, Span<T> gx, in PoolGeometry g)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int inW = g.InW, outW = g.OutW;
        // Stryker disable once Logical,Equality: speed only: the callers pass exact planes, and the scalar loop below gives the same bits
        bool vector = typeof(T) == typeof(float) && gy.Length >= g.OutPlane && idx.Length >= g.OutPlane && gx.Length >= g.InPlane
            && PoolSimd.MaxBackward2x2(ref Unsafe.As<T, float>(ref MemoryMarshal.GetReference(gy)), ref MemoryMarshal.GetReference(idx),
                ref Unsafe.As<T, float>(ref MemoryMarshal.GetReference(gx)), g);
        for (int oh = 0; !vector && oh < g.OutH; oh++)
        {
            Span<T> r0 = gx.Slice(2 * oh * inW, inW), r1 = gx.Slice((2 * oh + 1) * inW, inW);
            ReadOnlySpan<T> gRow = gy.Slice(oh * outW, outW);
            ReadOnlySpan<int> iRow = idx.Slice(oh * outW, outW);
            int rowBase = 2 * oh * inW;
            for (int ow = 0; ow < gRow.Length; ow++)
            {
                int at = iRow[ow] - (rowBase + 2 * ow); // 0, 1, inW or inW + 1
                T v = gRow[ow] + T.Zero;
                int c = 2 * ow;
                r0[c] = at == 0 ? v : T.Zero;
                r0[c + 1] = at == 1 ? v : T.Zero;
                r1[c] = at == inW ? v : T.Zero;
                r1[c + 1] = at == inW + 1 ? v : T.Zero;
                if (at != 0 && at != 1 && at != inW && at != inW + 1)
                    throw new ArgumentOutOfRangeException(nameof(idx),
                        $"MaxPool2dBackward: index {iRow[ow]} at output ({oh}, {ow}) is not in its 2x2 window at {rowBase + 2 * ow} ({g}).");
            }
        }
        // the last odd column and row no window covers
        // Stryker disable once Equality,Arithmetic: equivalent: when no column is left over the slices cleared are empty
        if (2 * outW < inW)
            for (int r = 0; r < 2 * g.OutH; r++) gx.Slice(r * inW + 2 * outW, inW - 2 * outW).Clear();
        // Stryker disable once Equality,Arithmetic: equivalent: when no row is left over the slice cleared is empty
        if (2 * g.OutH < g.InH) gx.Slice(2 * g.OutH * inW, (g.InH - 2 * g.OutH) * inW).Clear();
    }

    private static void MaxBackwardPlane<T>(ReadOnlySpan<T> gy, ReadOnlySpan<int> idx, Span<T> gx, int inPlane)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int o = 0; o < gy.Length; o++)
        {
            int i = idx[o];
            if (i < 0) continue;
            if (i >= inPlane)
                throw new ArgumentOutOfRangeException(nameof(idx),
                    $"MaxPool2dBackward: index {i} at output {o} is outside the input plane of {inPlane} elements.");
            gx[i] += gy[o];
        }
    }

    /// <summary>Window of output (oh, ow) clipped to the input, and its divisor (PyTorch avg_pool2d rules).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int AvgWindow(in PoolGeometry g, int oh, int ow, bool countIncludePad, int divisorOverride,
        out int h0, out int h1, out int w0, out int w1)
    {
        h0 = oh * g.StrideH - g.PadH;
        h1 = Math.Min(h0 + g.KernelH, g.InH + g.PadH);
        w0 = ow * g.StrideW - g.PadW;
        w1 = Math.Min(w0 + g.KernelW, g.InW + g.PadW);
        int poolSize = (h1 - h0) * (w1 - w0);
        h0 = Math.Max(h0, 0);
        h1 = Math.Min(h1, g.InH);
        w0 = Math.Max(w0, 0);
        w1 = Math.Min(w1, g.InW);
        return divisorOverride > 0 ? divisorOverride : countIncludePad ? poolSize : (h1 - h0) * (w1 - w0);
    }

    private static void AvgForwardPlane<T>(ReadOnlySpan<T> x, Span<T> y, in PoolGeometry g, bool countIncludePad, int divisorOverride)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int inW = g.InW, outW = g.OutW, kh = g.KernelH, kw = g.KernelW;
        InteriorRange(outW, g.StrideW, g.PadW, kw, 1, inW, out int owLo, out int owHi);
        int interiorDivisor = divisorOverride > 0 ? divisorOverride : kh * kw; // window fully inside: poolSize = count
        T div = T.CreateChecked(interiorDivisor);
        ref T xr = ref MemoryMarshal.GetReference(x);
        for (int oh = 0; oh < g.OutH; oh++)
        {
            int h0 = oh * g.StrideH - g.PadH;
            // Stryker disable once Equality: equivalent: the border code computes an interior output with the same sum and divisor
            bool rowInside = h0 >= 0 && h0 + kh <= g.InH;
            // Stryker disable once Conditional: equivalent: the border code computes an interior output with the same sum and divisor
            int lo = rowInside ? owLo : outW, hi = rowInside ? owHi : outW;
            Span<T> yRow = y.Slice(oh * outW, outW);
            for (int ow = 0; ow < lo; ow++)
                yRow[ow] = AvgBorder(x, g, oh, ow, countIncludePad, divisorOverride);
            int done = lo;
            // Stryker disable once Equality: speed only: the vector row or the scalar loop computes the same sums
            if (typeof(T) == typeof(float) && hi > lo)
                done = PoolSimd.AvgRow(ref Unsafe.As<T, float>(ref xr), x.Length, g, h0, lo, hi, (float)interiorDivisor,
                    ref Unsafe.As<T, float>(ref MemoryMarshal.GetReference(yRow)));
            for (int ow = done; ow < hi; ow++)
            {
                int w0 = ow * g.StrideW - g.PadW;
                T sum = T.Zero;
                for (int ki = 0; ki < kh; ki++)
                {
                    ref T r = ref Unsafe.Add(ref xr, (h0 + ki) * inW + w0);
                    for (int kj = 0; kj < kw; kj++) sum += Unsafe.Add(ref r, kj);
                }
                yRow[ow] = sum / div;
            }
            // Stryker disable once Linq: equivalent: starting earlier only recomputes interior outputs with the border code, which gives the same bits
            for (int ow = Math.Max(hi, lo); ow < outW; ow++)
                yRow[ow] = AvgBorder(x, g, oh, ow, countIncludePad, divisorOverride);
        }
    }

    private static T AvgBorder<T>(ReadOnlySpan<T> x, in PoolGeometry g, int oh, int ow, bool countIncludePad, int divisorOverride)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int divisor = AvgWindow(g, oh, ow, countIncludePad, divisorOverride, out int h0, out int h1, out int w0, out int w1);
        T sum = T.Zero;
        for (int ih = h0; ih < h1; ih++)
        {
            ReadOnlySpan<T> row = x.Slice(ih * g.InW + w0, w1 - w0);
            for (int t = 0; t < row.Length; t++) sum += row[t];
        }
        return sum / T.CreateChecked(divisor);
    }

    private static void AvgBackwardPlane<T>(ReadOnlySpan<T> gy, Span<T> gx, in PoolGeometry g, bool countIncludePad, int divisorOverride)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int need = g.InW + g.KernelW + g.OutW;
        // Stryker disable once Equality,Boolean: speed only: stack or rented scratch of the same length
        if (need <= 1024)
        {
            AvgBackwardPlane(gy, gx, g, countIncludePad, divisorOverride, stackalloc T[need]);
            return;
        }
        T[] rented = ArrayPool<T>.Shared.Rent(need);
        try
        {
            AvgBackwardPlane(gy, gx, g, countIncludePad, divisorOverride, rented.AsSpan(0, need));
        }
        finally
        {
            // Stryker disable once Statement: memory only: a rented buffer not returned is collected
            ArrayPool<T>.Shared.Return(rented);
        }
    }

    // Interior outputs of a row all spread gy/divisor over the same kernel rows: their column spread is built
    // once in `scratch` (KernelW shifted adds) and then added to each of the KernelH input rows.
    private static void AvgBackwardPlane<T>(ReadOnlySpan<T> gy, Span<T> gx, in PoolGeometry g, bool countIncludePad,
        int divisorOverride, Span<T> scratch)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int inW = g.InW, outW = g.OutW, kh = g.KernelH, kw = g.KernelW, sw = g.StrideW;
        InteriorRange(outW, sw, g.PadW, kw, 1, inW, out int owLo, out int owHi);
        T div = T.CreateChecked(divisorOverride > 0 ? divisorOverride : kh * kw);
        for (int oh = 0; oh < g.OutH; oh++)
        {
            int h0 = oh * g.StrideH - g.PadH;
            // Stryker disable once Equality: speed only: a row taken for a border row gets the same gradient (up to summation order)
            bool rowInside = h0 >= 0 && h0 + kh <= g.InH;
            // Stryker disable once Conditional: speed only: outputs moved to the border code get the same gradient (up to summation order)
            int lo = rowInside ? owLo : outW, hi = rowInside ? owHi : outW;
            ReadOnlySpan<T> gyRow = gy.Slice(oh * outW, outW);
            for (int ow = 0; ow < lo; ow++)
                AvgBorderBackward(gyRow[ow], gx, g, oh, ow, countIncludePad, divisorOverride);
            if (hi > lo)
            {
                int n = hi - lo;
                int c0 = lo * sw - g.PadW;
                int len = (hi - 1) * sw + kw - lo * sw;
                Span<T> spread = scratch.Slice(0, len);
                Span<T> v = scratch.Slice(inW + kw, n);
                spread.Clear();
                TensorPrimitives.Divide(gyRow.Slice(lo, n), div, v);
                if (sw == 1)
                {
                    for (int kj = 0; kj < kw; kj++)
                    {
                        Span<T> d = spread.Slice(kj, n);
                        TensorPrimitives.Add(d, v, d);
                    }
                }
                else
                {
                    for (int t = 0; t < n; t++)
                    {
                        Span<T> d = spread.Slice(t * sw, kw);
                        for (int kj = 0; kj < d.Length; kj++) d[kj] += v[t];
                    }
                }
                for (int ki = 0; ki < kh; ki++)
                {
                    Span<T> row = gx.Slice((h0 + ki) * inW + c0, len);
                    TensorPrimitives.Add(row, spread, row);
                }
            }
            for (int ow = Math.Max(hi, lo); ow < outW; ow++)
                AvgBorderBackward(gyRow[ow], gx, g, oh, ow, countIncludePad, divisorOverride);
        }
    }

    private static void AvgBorderBackward<T>(T gyValue, Span<T> gx, in PoolGeometry g, int oh, int ow, bool countIncludePad, int divisorOverride)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int divisor = AvgWindow(g, oh, ow, countIncludePad, divisorOverride, out int h0, out int h1, out int w0, out int w1);
        T v = gyValue / T.CreateChecked(divisor);
        for (int ih = h0; ih < h1; ih++)
        {
            Span<T> row = gx.Slice(ih * g.InW + w0, w1 - w0);
            for (int t = 0; t < row.Length; t++) row[t] += v;
        }
    }

    // ---------------------------------------------------------------- parallel driver and checks

    private enum Op { MaxForward, MaxBackward, AvgForward, AvgBackward }

    /// <summary>Elements (input or window reads) a parallel item of a pooling op covers at least.</summary>
    private const int ItemWork = 1 << 14;

    /// <summary>Planes per parallel item (depends on the geometry only).</summary>
    private static int PlanesPerItem(in PoolGeometry g) =>
        // Stryker disable once all: speed only: planes per parallel item; every plane is run once whatever the chunk
        (int)Math.Max(1, ItemWork / Math.Max(g.InPlane, (long)g.OutPlane * g.KernelH * g.KernelW));

    /// <summary>Runs a plane job over its items on the workers.</summary>
    private static void RunParallel<T>(PlaneJob<T> job) where T : unmanaged, IFloatingPointIeee754<T> =>
        WorkerPool.For(job.Items, job);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool UseParallel(int planes, in PoolGeometry g) =>
        // Stryker disable once all: speed only: the workers run the same per-plane code, so either path gives the same bits
        planes > 1 && Environment.ProcessorCount > 1
        // Stryker disable once all: speed only: the workers run the same per-plane code, so either path gives the same bits
        && (long)planes * Math.Max(g.InPlane, (long)g.OutPlane * g.KernelH * g.KernelW) >= ParallelThreshold;

    /// <summary>One plane of a pooling op on pinned buffers, for the workers (one item per plane).</summary>
    private sealed unsafe class PlaneJob<T>(Op op, T* a, T* b, int* indices, PoolGeometry g, bool countIncludePad, int divisorOverride,
        int planes, bool overwrite = false) : IParallelBody
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        /// <summary>Planes per item: about <see cref="ItemWork"/> elements, so an item is worth a claim.</summary>
        private readonly int _per = PlanesPerItem(g);

        /// <summary>Items of the region.</summary>
        // Stryker disable once Arithmetic: equivalent: extra items start at or past the last plane and run nothing
        public int Items => (planes + _per - 1) / _per;

        public void Run(int item)
        {
            int end = Math.Min(planes, (item + 1) * _per);
            for (int p = item * _per; p < end; p++) RunPlane(p);
        }

        private void RunPlane(int p)
        {
            int inPlane = g.InPlane, outPlane = g.OutPlane;
            switch (op)
            {
                case Op.MaxForward:
                    MaxForwardPlane(new ReadOnlySpan<T>(a + (long)p * inPlane, inPlane), new Span<T>(b + (long)p * outPlane, outPlane),
                        new Span<int>(indices + (long)p * outPlane, outPlane), g);
                    break;
                case Op.MaxBackward:
                    if (overwrite && IsDisjoint2x2(g))
                    {
                        MaxBackwardPlane2x2(new ReadOnlySpan<T>(a + (long)p * outPlane, outPlane),
                            new ReadOnlySpan<int>(indices + (long)p * outPlane, outPlane), new Span<T>(b + (long)p * inPlane, inPlane), g);
                        break;
                    }
                    if (overwrite) new Span<T>(b + (long)p * inPlane, inPlane).Clear();
                    MaxBackwardPlane(new ReadOnlySpan<T>(a + (long)p * outPlane, outPlane), new ReadOnlySpan<int>(indices + (long)p * outPlane, outPlane),
                        new Span<T>(b + (long)p * inPlane, inPlane), inPlane);
                    break;
                case Op.AvgForward:
                    AvgForwardPlane(new ReadOnlySpan<T>(a + (long)p * inPlane, inPlane), new Span<T>(b + (long)p * outPlane, outPlane), g,
                        countIncludePad, divisorOverride);
                    break;
                default:
                    AvgBackwardPlane(new ReadOnlySpan<T>(a + (long)p * outPlane, outPlane), new Span<T>(b + (long)p * inPlane, inPlane), g,
                        countIncludePad, divisorOverride);
                    break;
            }
        }
    }

    private static void CheckIn(string op, int planes, in PoolGeometry g, int length, string name)
    {
        if (planes < 0)
            throw new ShapeMismatchException($"{op}: plane count {planes} must be non-negative.");
        if (length < (long)planes * g.InPlane)
            throw new ShapeMismatchException(
                $"{op}: {name} has {length} elements, {planes} planes of [{g.InH}, {g.InW}] need {(long)planes * g.InPlane} ({g}).");
    }

    private static void CheckOut(string op, int planes, in PoolGeometry g, int length, string name)
    {
        if (length < (long)planes * g.OutPlane)
            throw new ShapeMismatchException(
                $"{op}: {name} has {length} elements, {planes} planes of [{g.OutH}, {g.OutW}] need {(long)planes * g.OutPlane} ({g}).");
    }

    private static void CheckAvg(string op, in PoolGeometry g, int divisorOverride)
    {
        if (g.DilationH != 1 || g.DilationW != 1)
            throw new ArgumentOutOfRangeException(nameof(g), $"{op}: average pooling has no dilation, got {g.DilationH}x{g.DilationW}.");
        if (divisorOverride < 0)
            throw new ArgumentOutOfRangeException(nameof(divisorOverride), $"{op}: divisorOverride {divisorOverride} must be > 0 (or 0 for none).");
    }

    private static void CheckGlobal(string op, int planes, int size, int planeLength, string planeName, int perPlaneLength, string perPlaneName)
    {
        if (planes < 0 || size < 1)
            throw new ShapeMismatchException($"{op}: planes ({planes}) must be >= 0 and size ({size}) >= 1.");
        if (planeLength < (long)planes * size)
            throw new ShapeMismatchException($"{op}: {planeName} has {planeLength} elements, [{planes}, {size}] needs {(long)planes * size}.");
        CheckPerPlane(op, planes, perPlaneLength, perPlaneName);
    }

    private static void CheckPerPlane(string op, int planes, int length, string name)
    {
        if (length < planes)
            throw new ShapeMismatchException($"{op}: {name} has {length} elements, needs {planes} (one per plane).");
    }
}
