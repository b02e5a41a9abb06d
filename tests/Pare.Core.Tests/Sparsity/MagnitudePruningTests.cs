using Pare.Core.Sparsity;

namespace Pare.Core.Tests.Sparsity;

public class MagnitudePruningTests
{
    [Fact]
    public void UnstructuredPrunesTheFloorOfTheShareAndTiesInIndexOrder()
    {
        // 7 values at 50%: ⌊3.5⌋ = 3 go. |w| sorted: 1 (index 1), 2 (indices 2 and 4), ...; the tie at 2 takes index 2 first.
        float[] w = [5, -1, 2, 7, -2, 6, 3];
        Assert.Equal([5, 0, 0, 7, 0, 6, 3], MagnitudePruning.Unstructured(w, 0.5));
        // 60% of 7: ⌊4.2⌋ = 4.
        Assert.Equal([5, 0, 0, 7, 0, 6, 0], MagnitudePruning.Unstructured(w, 0.6));
        Assert.Equal(w, MagnitudePruning.Unstructured(w, 0.1)); // ⌊0.7⌋ = 0
    }

    [Fact]
    public void NmKeepsTheEarlierOfEqualMagnitudes()
    {
        // Groups of 4: [1, -1, 1, 0.5] keeps the first two ones; [3, 3, 3, 3] keeps the first two; the tail [9, 8, 7]
        // of three columns keeps its two largest.
        float[] w = [1, -1, 1, 0.5f, 3, 3, 3, 3, 9, 8, 7];
        Assert.Equal([1, -1, 0, 0, 3, 3, 0, 0, 9, 8, 0], MagnitudePruning.NM(w, 1, 11, 2, 4));
    }

    [Fact]
    public void NmIsPerRow()
    {
        float[] w = [4, 3, 2, 1, 1, 2, 3, 4];
        Assert.Equal([4, 3, 0, 0, 0, 0, 3, 4], MagnitudePruning.NM(w, 2, 4, 2, 4));
        Assert.Equal([4, 3, 2, 0, 0, 2, 3, 4], MagnitudePruning.NM(w, 2, 4, 3, 4));
    }
}
