using System.Runtime.CompilerServices;
using FlexNet.Graph;
using FlexNet.Layers;

namespace FlexNet.Connections;

/// <summary>
/// Initialisation settings for connections, the same ones catalog layers take (<see cref="LayerInit"/>: a scheme such
/// as <c>glorot_uniform</c>, <c>he_normal</c>, <c>orthogonal</c>, theanets attributes such as <c>std</c> or
/// <c>sparsity</c>, and a per-connection seed): <c>net.ConnectDense(a, b, init: "he_normal")</c>, or
/// <c>new DenseConnection(a, b).WithInit(new LayerInit("orthogonal", seed: 7))</c> for any connection. They are applied
/// when the network builds the connection's parameters (fan_in and fan_out from the parameter's shape, as
/// <see cref="LayerInit"/> documents), and model files keep them.
/// </summary>
public static class ConnectionInit
{
    private static readonly ConditionalWeakTable<Connection, LayerInit> Table = new();

    /// <summary>Sets the initialisation of <paramref name="connection"/>'s parameters (before the network is built).</summary>
    /// <typeparam name="TConnection">Connection type.</typeparam>
    /// <param name="connection">The connection.</param>
    /// <param name="init">The settings (a scheme name converts: <c>"glorot_uniform"</c>).</param>
    /// <returns>The connection.</returns>
    /// <exception cref="GraphException">The connection's parameters exist already.</exception>
    public static TConnection WithInit<TConnection>(this TConnection connection, LayerInit init) where TConnection : Connection
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(init);
        if (connection.IsBuilt)
            throw new GraphException($"Connection '{connection.Name}' from '{connection.From.Name}' to '{connection.To.Name}' is built already; set its init before Compile().");
        Table.AddOrUpdate(connection, init);
        // Stryker disable once Conditional : equivalent: LayerInit.Apply returns at once for a default init, so a delegate does what null does
        connection.Initializer = init.IsDefault ? null : (p, shortName, rng) => init.Apply(p, shortName, 0, rng, p.Name ?? shortName);
        return connection;
    }

    /// <summary>The initialisation set with <see cref="WithInit"/>, or null (the connection's built-in default).</summary>
    /// <param name="connection">The connection.</param>
    /// <returns>The settings or null.</returns>
    public static LayerInit? InitOf(Connection connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        return Table.TryGetValue(connection, out var init) ? init : null;
    }

    internal static TConnection Maybe<TConnection>(TConnection connection, LayerInit? init) where TConnection : Connection =>
        init is null ? connection : connection.WithInit(init);
}
