namespace FlexNet.Graph;

public sealed partial class Network
{
    private bool _keepPacks;

    /// <summary>Keep the packed weights of the fused dense layers from run to run (see ExecutionPlan.Frozen.cs). Only
    /// for a network whose weights can never change: a frozen model's private copy. Turning it off gives the packs'
    /// buffers back; the owner also calls <see cref="ReleaseKeptPacks"/> before dropping the network.</summary>
    internal bool KeepPacks
    {
        get => _keepPacks;
        set
        {
            if (!value) ReleaseKeptPacks();
            _keepPacks = value;
        }
    }

    /// <summary>Gives the kept packs' buffers back to the pool (not while a run is in progress).</summary>
    internal void ReleaseKeptPacks() => _plan?.ReleaseKeptPacks();

    /// <summary>Test hook: weights packed by the current plan so far (0 before it is compiled).</summary>
    internal int PacksMade => _plan?.PacksMade ?? 0;

    /// <summary>Test hook: packs the current plan holds.</summary>
    internal int KeptPackCount => _plan?.KeptPackCount ?? 0;

    /// <summary>Test hook: the packs of the current plan that hold a packing now.</summary>
    internal int HeldPackCount => _plan?.HeldPackCount ?? 0;
}
