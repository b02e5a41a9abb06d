namespace Pare.Torch.Tests;

/// <summary>Plain double-precision matrix helpers for the reference OBS loops the pruning and quantization tests check against.</summary>
internal static class DoubleMatrix
{
    /// <summary>Removes variable j from an inverse Hessian (OBS): H⁻¹ ← H⁻¹ − H⁻¹[:, j] H⁻¹[j, :] / H⁻¹[j, j].</summary>
    public static void Eliminate(double[,] hinv, int j)
    {
        int n = hinv.GetLength(0);
        double d = hinv[j, j];
        var row = new double[n];
        for (int c = 0; c < n; c++) row[c] = hinv[j, c];
        for (int a = 0; a < n; a++)
        {
            double f = hinv[a, j] / d;
            for (int c = 0; c < n; c++) hinv[a, c] -= f * row[c];
        }
    }

    /// <summary>Gauss–Jordan inverse with partial pivoting.</summary>
    public static double[,] Invert(double[,] m)
    {
        int n = m.GetLength(0);
        var a = (double[,])m.Clone();
        var inv = new double[n, n];
        for (int i = 0; i < n; i++) inv[i, i] = 1;
        for (int col = 0; col < n; col++)
        {
            int pivot = col;
            for (int r = col + 1; r < n; r++) if (Math.Abs(a[r, col]) > Math.Abs(a[pivot, col])) pivot = r;
            for (int c = 0; c < n; c++)
            {
                (a[col, c], a[pivot, c]) = (a[pivot, c], a[col, c]);
                (inv[col, c], inv[pivot, c]) = (inv[pivot, c], inv[col, c]);
            }
            double p = a[col, col];
            for (int c = 0; c < n; c++) { a[col, c] /= p; inv[col, c] /= p; }
            for (int r = 0; r < n; r++)
            {
                if (r == col) continue;
                double f = a[r, col];
                if (f == 0) continue;
                for (int c = 0; c < n; c++) { a[r, c] -= f * a[col, c]; inv[r, c] -= f * inv[col, c]; }
            }
        }
        return inv;
    }

    public static IEnumerable<double> Flatten(double[,] m)
    {
        foreach (var v in m) yield return v;
    }

    public static double Gaussian(Random rng) => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
}
