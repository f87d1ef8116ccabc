namespace FlexNet.Distributed;

/// <summary>The element-wise combination of an all-reduce (MPI_SUM, MPI_MIN, MPI_MAX).</summary>
public enum ReduceOp
{
    /// <summary>x = Σ over ranks of x_r.</summary>
    Sum,

    /// <summary>x = min over ranks of x_r.</summary>
    Min,

    /// <summary>x = max over ranks of x_r.</summary>
    Max,
}
