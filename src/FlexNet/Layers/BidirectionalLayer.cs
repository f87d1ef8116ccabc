using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.Tensors;

namespace FlexNet.Layers;

/// <summary>
/// Two recurrent layers over the same whole sequence [T, F], one forward and one backward in time, outputs
/// concatenated on the feature axis: y_t = [fw_t ; bw_t] (both aligned to input step t — FlexNet rule), or with
/// <c>returnSequences: false</c> [fw at T−1 ; bw at 0]. The backward half is a copy of the forward layer's
/// configuration with its own weights (<c>NAME_backward.*</c>) unless given.
/// </summary>
public sealed class BidirectionalLayer : CatalogLayer
{
    /// <summary>Creates the layer.</summary>
    /// <param name="forward">The forward layer (its options apply to both halves).</param>
    /// <param name="backward">The backward layer (default: a copy of <paramref name="forward"/>'s configuration).</param>
    /// <param name="name">Layer name.</param>
    public BidirectionalLayer(RecurrentLayer forward, RecurrentLayer? backward = null, string? name = null) : base(name, null)
    {
        Forward = forward ?? throw new ArgumentNullException(nameof(forward));
        if (forward.GoBackwards) throw new ArgumentException("Bidirectional: the forward layer must not run backwards.", nameof(forward));
        Backward = backward ?? forward.CloneConfiguration(null, goBackwards: false);
    }

    /// <summary>Forward half.</summary>
    public RecurrentLayer Forward { get; }

    /// <summary>Backward half.</summary>
    public RecurrentLayer Backward { get; }

    /// <inheritdoc/>
    public override string Form => "bidirectional";

    /// <inheritdoc/>
    public override IReadOnlyDictionary<string, object>? GetConfig()
    {
        // the form builds both halves from the worker's defaults: only such a pair is described by it
        var fw = Forward.GetConfig()!;
        var fresh = LayerRegistry.Create(Forward.Form, new LayerArgs(new Dictionary<string, object> { ["size"] = Forward.Units, ["return_sequences"] = Forward.ReturnSequences }, "bidirectional")).GetConfig()!;
        bool plain = Backward.GetType() == Forward.GetType() && !Backward.GoBackwards && Backward.Units == Forward.Units && Backward.ReturnSequences == Forward.ReturnSequences &&
                     SameExceptName(fw, fresh) && SameExceptName(Backward.GetConfig()!, fresh) && Forward.InputWidth is null &&
                     (Forward.Name is null || Name is null || Forward.Name == Name + "_forward") && (Backward.Name is null || Name is null || Backward.Name == Name + "_backward");
        if (!plain)
            throw new GraphException($"Bidirectional layer '{Name}': its halves ({Forward}, {Backward}) are not the '{Forward.Form}' defaults the 'bidirectional' form builds, so a model file cannot describe them.");
        var d = Config("bidirectional", withInit: false);
        foreach (var (k, v) in fw)
            if (k is "init" or "rng" || LayerInit.IsAttribute(k)) d[k] = v;
        (d["worker"], d["size"], d["return_sequences"]) = (Forward.Form, 2 * Forward.Units, Forward.ReturnSequences);
        return d;
    }

    private static bool SameExceptName(IReadOnlyDictionary<string, object> a, IReadOnlyDictionary<string, object> b)
    {
        foreach (var (k, v) in a)
        {
            if (k is "name" or "init" or "rng" || LayerInit.IsAttribute(k)) continue;
            if (!b.TryGetValue(k, out var w) || !Equals(v, w) && !(v is int[] x && w is int[] y && x.AsSpan().SequenceEqual(y))) return false;
        }
        foreach (var k in b.Keys)
            if (!(k is "name" or "init" or "rng" || LayerInit.IsAttribute(k)) && !a.ContainsKey(k)) return false;
        return true;
    }

    /// <inheritdoc/>
    public override bool ReturnsLastStep => !Forward.ReturnSequences;

    /// <inheritdoc/>
    protected override (int Min, int Max) InputArity => (1, 2);

    /// <summary>Runs both halves directly on a time-major sequence x [T, N, F] (outside any network; weights shared
    /// with the graph nodes): [T, N, H_fw + H_bw], or [fw at T−1 ; bw at 0] [N, H_fw + H_bw].</summary>
    /// <param name="x">Inputs [T, N, F].</param>
    /// <returns>The concatenated output.</returns>
    public Tensor Run(Tensor x)
    {
        Forward.Name ??= (Name ?? "bidirectional") + "_forward";
        Backward.Name ??= (Name ?? "bidirectional") + "_backward";
        var (yf, _) = Forward.Run(x);
        var b = Backward.GoBackwards ? Backward : null;
        var (yb, _) = b is not null ? b.Run(x) : RunReversed(Backward, x);
        return Tensor.Concat([yf, yb], -1);
    }

    private static (Tensor, Recurrent.CellState) RunReversed(RecurrentLayer layer, Tensor x)
    {
        var cell = layer.Cell ?? layer.GetCell(x.Shape[2], x.DType, RandomGenerator.Default);
        return Recurrent.Recurrence.Run(cell, x, null, reverse: true, layer.ReturnSequences);
    }

    /// <inheritdoc/>
    protected override Layer AttachCore(AttachContext ctx)
    {
        var node = ctx.Add(new RecurrentCellLayer(Forward, Backward, ctx.NodeName, null));
        Forward.Name ??= node.Name + "_forward";
        Backward.Name ??= node.Name + "_backward";
        Own(ctx.Network, new SequenceInputConnection(ctx.Inputs[0], node));
        if (ctx.Inputs.Count == 2) Own(ctx.Network, new InitialStateConnection(ctx.Inputs[1], node));
        return node;
    }
}
