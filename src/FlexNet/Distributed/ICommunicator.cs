namespace FlexNet.Distributed;

/// <summary>
/// A group of <see cref="Size"/> processes (ranks 0 … Size−1) that call the same collectives in the same order:
/// what synchronous data-parallel training needs from MPI. Every method is collective (each rank must call it
/// with the same length, operation and root) except <see cref="Abort"/>. <see cref="MpiCommunicator"/> is the MPI
/// implementation; the element types supported by <see cref="AllReduce{T}"/> are <see cref="float"/>,
/// <see cref="double"/>, <see cref="int"/> and <see cref="long"/>.
/// </summary>
public interface ICommunicator
{
    /// <summary>This process's rank in 0 … <see cref="Size"/>−1.</summary>
    int Rank { get; }

    /// <summary>Number of ranks.</summary>
    int Size { get; }

    /// <summary>In-place all-reduce: afterwards every rank holds <c>data[i] = op over ranks r of data_r[i]</c>.</summary>
    /// <typeparam name="T"><see cref="float"/>, <see cref="double"/>, <see cref="int"/> or <see cref="long"/>.</typeparam>
    /// <param name="data">The values, same length on every rank; overwritten with the result.</param>
    /// <param name="op">The combination.</param>
    /// <exception cref="ArgumentException"><typeparamref name="T"/> is not one of the four supported types.</exception>
    /// <exception cref="DistributedException">The MPI call failed.</exception>
    void AllReduce<T>(Span<T> data, ReduceOp op) where T : unmanaged;

    /// <summary>Copies <paramref name="data"/> of rank <paramref name="root"/> into <paramref name="data"/> of every
    /// other rank (any unmanaged element type; sent as bytes).</summary>
    /// <typeparam name="T">Element type.</typeparam>
    /// <param name="data">Source on the root, destination elsewhere; same length on every rank.</param>
    /// <param name="root">The sending rank.</param>
    /// <exception cref="DistributedException">The MPI call failed.</exception>
    void Broadcast<T>(Span<T> data, int root) where T : unmanaged;

    /// <summary>Returns once every rank has entered the barrier.</summary>
    void Barrier();

    /// <summary>Writes <paramref name="message"/> (prefixed with this rank) to standard error, then terminates every
    /// rank (MPI_Abort with <paramref name="errorCode"/>). Not collective: one failing rank calls it and the others
    /// stop wherever they are blocked.</summary>
    /// <param name="errorCode">Exit code passed to the launcher.</param>
    /// <param name="message">Why.</param>
    void Abort(int errorCode, string message);
}
