namespace FlexNet.Initializers;

/// <summary>Small dense linear algebra in double precision for initialisers (not a hot path).</summary>
internal static class Linalg
{
    internal const int MaxIterations = 20000;

    /// <summary>Test hook: power-iteration steps taken on this thread by <see cref="SpectralNorm"/> since it was last
    /// set to 0 (one increment per step, so the cap is observable without a clock).</summary>
    [ThreadStatic] internal static int SpectralStepsOnThisThread;

    /// <summary>Orthonormalises the columns a[j] in place (modified Gram–Schmidt, applied twice for accuracy);
    /// this is the Q of a QR decomposition with positive diag(R).</summary>
    internal static void GramSchmidt(double[][] a)
    {
        for (int j = 0; j < a.Length; j++)
        {
            var v = a[j];
            // One pass leaves QᵀQ = I with errors of about ε·cond(a); the second pass brings them down to ε.
            ProjectOut(a, j);
            ProjectOut(a, j);
            double norm = 0;
            for (int k = 0; k < v.Length; k++) norm += v[k] * v[k];
            norm = Math.Sqrt(norm);
            if (norm == 0) throw new InvalidOperationException("Orthogonal: a Gaussian column was linearly dependent (zero after projection).");
            for (int k = 0; k < v.Length; k++) v[k] /= norm;
        }
    }

    /// <summary>Removes from a[j] its components along the orthonormal columns a[0..j) (modified Gram–Schmidt).</summary>
    private static void ProjectOut(double[][] a, int j)
    {
        var v = a[j];
        for (int i = 0; i < j; i++)
        {
            var q = a[i];
            double dot = 0;
            for (int k = 0; k < v.Length; k++) dot += q[k] * v[k];
            for (int k = 0; k < v.Length; k++) v[k] -= dot * q[k];
        }
    }

    /// <summary>Largest singular value of a row-major [rows, cols] matrix: power iteration on MᵀM until the
    /// Rayleigh quotient stops changing (its error shrinks like (σ₂/σ₁)^(4k)). An empty matrix gives 0.</summary>
    internal static double SpectralNorm(double[] m, int rows, int cols)
    {
        var v = new double[cols];
        var u = new double[rows];
        // A deterministic start with components in every direction.
        // Stryker disable once Arithmetic: another start of this kind (1 - 0.1·sin, 0.1 / sin, sin(j - 1)) converges to the same norm; it only changes which measure-zero set of matrices (top singular vector orthogonal to the start) would be missed
        for (int j = 0; j < cols; j++) v[j] = 1 + 0.1 * Math.Sin(j + 1);
        // Stryker disable once Statement: the first step divides Mᵀ(Mv) by its norm anyway; only iteration 0's σ² is off, and it is only compared with iteration 1's
        Normalize(v);
        double prev = 0, sigma2 = 0;
        // The cap, for a quotient that does not settle ('!=' as '<': with '<', the equivalent '<=' would be a mutant).
        for (int iter = 0; iter != MaxIterations; iter++)
        {
            SpectralStepsOnThisThread++;
            for (int i = 0; i < rows; i++)
            {
                double s = 0;
                // Stryker disable once Assignment: u = -Mv gives the same σ² = ‖u‖² and the next v up to its sign
                for (int j = 0; j < cols; j++) s += m[i * cols + j] * v[j];
                u[i] = s;
            }
            sigma2 = 0;
            for (int i = 0; i < rows; i++) sigma2 += u[i] * u[i];
            Array.Clear(v);
            for (int i = 0; i < rows; i++)
                // Stryker disable once Assignment: v = -Mᵀu is the same direction up to its sign, and σ² = ‖Mv‖² does not see the sign
                for (int j = 0; j < cols; j++) v[j] += m[i * cols + j] * u[i];
            if (Normalize(v) == 0) return 0;
            // The Rayleigh quotients ‖Mv‖² of power iteration on MᵀM never decrease, so a step that leaves σ² as it
            // was has converged.
            // Stryker disable once Arithmetic: |σ² + prev| never falls below 1e-15·σ², so the loop runs all its iterations: the same norm, slower
            double change = Math.Abs(sigma2 - prev);
            // Stryker disable once Statement: without the stop the loop runs all its iterations: the same norm, slower
            if (change <= 1e-15 * sigma2) break;
            prev = sigma2;
        }
        return Math.Sqrt(sigma2);
    }

    private static double Normalize(double[] v)
    {
        double n = 0;
        foreach (double x in v) n += x * x;
        n = Math.Sqrt(n);
        if (n == 0) return 0;
        for (int i = 0; i < v.Length; i++) v[i] /= n;
        return n;
    }
}
