namespace FlexNet.Distributed;

/// <summary>The thread support requested from MPI_Init_thread (values as in mpi.h for both Open MPI and MPICH).</summary>
public enum MpiThreadLevel
{
    /// <summary>MPI_THREAD_SINGLE: one thread in the process.</summary>
    Single = 0,

    /// <summary>MPI_THREAD_FUNNELED: many threads, only the one that initialized MPI calls it (FlexNet's case: the
    /// kernels run on the thread pool, the trainer calls MPI from its own thread).</summary>
    Funneled = 1,

    /// <summary>MPI_THREAD_SERIALIZED: any thread may call MPI, never two at once.</summary>
    Serialized = 2,

    /// <summary>MPI_THREAD_MULTIPLE: any thread, concurrently.</summary>
    Multiple = 3,
}
