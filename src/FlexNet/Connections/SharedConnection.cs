using FlexNet.Graph;
using FlexNet.Tensors;

namespace FlexNet.Connections;

/// <summary>
/// A connection that reuses another connection's parameters and transform: c = partner.Contribute(s). It is what a
/// shared catalog layer (one layer object called on several inputs) creates for its second and later calls, so
/// every call uses the same weights and gradients from all calls add up in them. The source must have the partner's
/// source shape. No parameters of its own.
/// </summary>
public sealed class SharedConnection : Connection
{
    /// <summary>Creates the connection.</summary>
    /// <param name="partner">The connection whose parameters and transform are reused.</param>
    /// <param name="from">Source layer.</param>
    /// <param name="to">Target layer.</param>
    /// <param name="delay">Delay in steps.</param>
    /// <param name="name">Optional name.</param>
    public SharedConnection(Connection partner, Layer from, Layer to, int delay = 0, string? name = null) : base(from, to, delay, name)
    {
        Partner = partner ?? throw new ArgumentNullException(nameof(partner));
    }

    /// <summary>The connection whose weights are used.</summary>
    public Connection Partner { get; }

    /// <inheritdoc/>
    public override string Kind => $"shared({Partner.Name})";

    /// <inheritdoc/>
    protected override int[] Build(ConnectionBuildContext context)
    {
        if (!Partner.IsBuilt)
        {
            int[]? target = Partner.To.ChangesShape || Partner.To.Combine == CombineRule.Concat ? null : Partner.To.DeclaredShape;
            Partner.BuildOnce(context.SourceShape, target, context.DType, context.Random);
        }
        if (!ShapeUtil.SameShape(Partner.SourceShape!, context.SourceShape))
            throw Mismatch($"the shared layer was first applied to inputs of shape {ShapeUtil.Format(Partner.SourceShape!)} (connection '{Partner.Name}'); a shared layer needs the same input shape every time.");
        return Partner.OutputShape!;
    }

    internal override bool TryGetAffine(out Tensor? weight, out Tensor? bias) => Partner.TryGetAffine(out weight, out bias);

    /// <inheritdoc/>
    public override Tensor Contribute(Tensor source) => Partner.Contribute(source);
}
