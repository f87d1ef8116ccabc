using FlexNet.Kernels;
using FlexNet.Tensors;

namespace FlexNet.Graph;

/// <summary>
/// Kept packs (<see cref="Network.KeepPacks"/>, set only on a frozen model's private network, whose weights never
/// change): the Wᵀ packing of a fused dense layer is made at its first use and kept from run to run instead of
/// being made again at every run (or inside every GEMM) and released at its end. A kept pack is used only where the
/// unpacked product would run on the GEMM's packing micro-kernels (<see cref="Gemm.PacksTransposedB{T}"/>), whose
/// results it reproduces bit for bit; the matrix-vector paths (batch 1, few outputs) keep reading W in place.
/// </summary>
internal sealed partial class ExecutionPlan
{
    /// <summary>Test hook: how many times this plan packed a weight (first uses, and every run without kept packs).</summary>
    internal int PacksMade;

    /// <summary>Whether a pack of <paramref name="w"/> [out, in] (kept, or made once per run for a layer that runs at
    /// every step) replaces the GEMM of a batch of <paramref name="n"/>: only where that GEMM packs Wᵀ itself, so that
    /// results never depend on whether a pack was made.</summary>
    private static bool KeptPackFits(Tensor w, int n)
    {
        int outF = w.ShapeArray[0], inF = w.ShapeArray[1];
        return w.DType == DType.Float32 ? Gemm.PacksTransposedB<float>(n, outF, inF) : Gemm.PacksTransposedB<double>(n, outF, inF);
    }

    /// <summary>Gives every kept pack's buffer back to the pool (the owner of a network with kept packs calls it
    /// before letting the network go: a pack's buffer is pinned). Not while a run is in progress.</summary>
    internal void ReleaseKeptPacks()
    {
        var scratch = Interlocked.Exchange(ref _scratch, null);
        if (scratch is null) return;
        scratch.DropPacks();
        _scratch = scratch;
    }

    /// <summary>The packs the plan holds now (tests).</summary>
    internal int KeptPackCount => _scratch?.Packed.Count ?? 0;

    /// <summary>The packs that hold a packing now (tests: a run that keeps none gives them back).</summary>
    internal int HeldPackCount => _scratch?.HeldPacks ?? 0;
}
