using FlexNet.Autodiff;
using FlexNet.Graph;
using FlexNet.Layers;

namespace FlexNet.Connections;

/// <summary>
/// <see cref="Network"/>'s connect verbs for the built-in connection kinds: <c>net.Connect(a, b)</c> (dense, or identity
/// into a shape-changing layer), <c>net.ConnectDense</c>, <c>ConnectConv2d</c>, <c>ConnectConvTranspose2d</c>,
/// <c>ConnectIdentity</c>, <c>ConnectElementwise</c>, <c>ConnectTied</c>. Each makes the connection and adds it with
/// <see cref="Network.Connect{TConnection}(TConnection)"/>, the one way every connection enters a network.
/// </summary>
public static class NetworkConnections
{
    /// <summary>Connects <paramref name="from"/> to <paramref name="to"/>: dense (with bias) by default, identity when the
    /// target is a <see cref="RecurrentCellLayer"/> (its parameter-free input edge), a shape-changing layer (flatten, reshape, pooling) or one that transforms its input as it is (batch
    /// norm, dropout, Gaussian noise).</summary>
    /// <param name="network">The network.</param>
    /// <param name="from">Source layer.</param>
    /// <param name="to">Target layer.</param>
    /// <param name="delay">Delay in steps (0 = within the step; k ≥ 1 reads y_from(t − k)).</param>
    /// <returns>The new connection.</returns>
    public static Connection Connect(this Network network, Layer from, Layer to, int delay = 0) =>
        network.Connect<Connection>(to is RecurrentCellLayer ? new SequenceInputConnection(from, to, delay) : to.ChangesShape || to is Layers.IIdentityInput ? new IdentityConnection(from, to, delay) : new DenseConnection(from, to, delay));

    /// <summary>Dense connection c = s·Wᵀ + b, W [out, in] (see <see cref="DenseConnection"/>).</summary>
    /// <param name="network">The network.</param>
    /// <param name="from">Source layer.</param>
    /// <param name="to">Target layer.</param>
    /// <param name="delay">Delay in steps.</param>
    /// <param name="bias">Whether the connection owns a bias.</param>
    /// <param name="units">Output features when the target cannot give them (concat targets).</param>
    /// <param name="name">Optional name.</param>
    /// <param name="init">Initialisation, as catalog layers take it (a scheme name such as <c>"he_normal"</c>, or a
    /// <see cref="Layers.LayerInit"/>); null: torch.nn.Linear's default.</param>
    /// <returns>The new connection.</returns>
    public static DenseConnection ConnectDense(this Network network, Layer from, Layer to, int delay = 0, bool bias = true, int? units = null, string? name = null,
                                               Layers.LayerInit? init = null) =>
        network.Connect(ConnectionInit.Maybe(new DenseConnection(from, to, delay, bias, units, name), init));

    /// <summary>Convolution connection (see <see cref="Conv2dConnection"/>).</summary>
    /// <param name="network">The network.</param>
    /// <param name="from">Source [Cin, H, W].</param>
    /// <param name="to">Target [Cout, Hout, Wout].</param>
    /// <param name="kernelSize">Kernel size.</param>
    /// <param name="stride">Stride.</param>
    /// <param name="padding">Padding (valid by default; <c>Padding.Same</c> or an int).</param>
    /// <param name="delay">Delay in steps.</param>
    /// <param name="bias">Whether the connection owns a bias [Cout].</param>
    /// <param name="dilation">Dilation.</param>
    /// <param name="outChannels">Cout when the target cannot give it.</param>
    /// <param name="name">Optional name.</param>
    /// <param name="init">Initialisation (a scheme name or a <see cref="Layers.LayerInit"/>); null: torch.nn.Conv2d's default.</param>
    /// <returns>The new connection.</returns>
    public static Conv2dConnection ConnectConv2d(this Network network, Layer from, Layer to, int kernelSize, int stride = 1, Padding padding = default, int delay = 0,
                                          bool bias = true, int dilation = 1, int? outChannels = null, string? name = null, Layers.LayerInit? init = null) =>
        network.Connect(ConnectionInit.Maybe(new Conv2dConnection(from, to, kernelSize, stride, padding, dilation, delay, bias, outChannels, name), init));

    /// <summary>Transposed-convolution connection, e.g. top-down feedback into a larger map (see <see cref="ConvTranspose2dConnection"/>).
    /// The parameters come in the order of <see cref="ConnectConv2d"/>'s.</summary>
    /// <param name="network">The network.</param>
    /// <param name="from">Source [Cin, H, W].</param>
    /// <param name="to">Target [Cout, Hout, Wout].</param>
    /// <param name="kernelSize">Kernel size.</param>
    /// <param name="stride">Stride (upsampling factor).</param>
    /// <param name="padding">Rows/columns removed from each side of the output (torch's <c>padding</c>).</param>
    /// <param name="delay">Delay in steps.</param>
    /// <param name="bias">Whether the connection owns a bias [Cout].</param>
    /// <param name="dilation">Dilation.</param>
    /// <param name="outChannels">Cout when the target cannot give it.</param>
    /// <param name="outputPadding">Extra output rows/columns; null to fit the target.</param>
    /// <param name="name">Optional name.</param>
    /// <param name="init">Initialisation (a scheme name or a <see cref="Layers.LayerInit"/>); null: torch's default.</param>
    /// <returns>The new connection.</returns>
    public static ConvTranspose2dConnection ConnectConvTranspose2d(this Network network, Layer from, Layer to, int kernelSize, int stride = 1, int padding = 0, int delay = 0,
                                                                   bool bias = true, int dilation = 1, int? outChannels = null, int? outputPadding = null, string? name = null,
                                                                   Layers.LayerInit? init = null) =>
        network.Connect(ConnectionInit.Maybe(new ConvTranspose2dConnection(from, to, kernelSize, stride, padding, outputPadding, dilation, delay, bias, outChannels, name), init));

    /// <summary>Identity connection c = s (see <see cref="IdentityConnection"/>).</summary>
    /// <param name="network">The network.</param>
    /// <param name="from">Source layer.</param>
    /// <param name="to">Target layer (same shape).</param>
    /// <param name="delay">Delay in steps.</param>
    /// <param name="name">Optional name.</param>
    /// <returns>The new connection.</returns>
    public static IdentityConnection ConnectIdentity(this Network network, Layer from, Layer to, int delay = 0, string? name = null) =>
        network.Connect(new IdentityConnection(from, to, delay, name));

    /// <summary>Elementwise connection c = w ⊙ s (+ b) (see <see cref="ElementwiseConnection"/>).</summary>
    /// <param name="network">The network.</param>
    /// <param name="from">Source layer.</param>
    /// <param name="to">Target layer (same shape).</param>
    /// <param name="delay">Delay in steps.</param>
    /// <param name="bias">Whether the connection owns a bias.</param>
    /// <param name="name">Optional name.</param>
    /// <param name="init">Initialisation (e.g. <c>new LayerInit(null, [new("mean_weight", 1), new("std_weight", 0)])</c>); null: the default.</param>
    /// <returns>The new connection.</returns>
    public static ElementwiseConnection ConnectElementwise(this Network network, Layer from, Layer to, int delay = 0, bool bias = false, string? name = null,
                                                           Layers.LayerInit? init = null) =>
        network.Connect(ConnectionInit.Maybe(new ElementwiseConnection(from, to, delay, bias, name), init));

    /// <summary>Tied connection c = s·W_p + b using a partner dense connection's weight transposed (see <see cref="TiedConnection"/>).</summary>
    /// <param name="network">The network.</param>
    /// <param name="from">Source layer (partner's output size).</param>
    /// <param name="to">Target layer (partner's input size).</param>
    /// <param name="partner">The dense connection whose weight is shared.</param>
    /// <param name="delay">Delay in steps.</param>
    /// <param name="bias">Whether this connection owns a bias.</param>
    /// <param name="name">Optional name.</param>
    /// <returns>The new connection.</returns>
    public static TiedConnection ConnectTied(this Network network, Layer from, Layer to, DenseConnection partner, int delay = 0, bool bias = true, string? name = null) =>
        network.Connect(new TiedConnection(from, to, partner, delay, bias, name));
}
