using Pare.Eval;

namespace Pare.Eval.Tests;

public class TextSliceAndMedianTests
{
    [Fact]
    public void AdjacentSlicesSplitAListWithoutOverlapOrGap()
    {
        var items = Enumerable.Range(0, 11).ToList();
        var first = TextSlice.Parse("0:0.5").Take(items).ToList();
        var second = TextSlice.Parse("0.5:1").Take(items).ToList();
        Assert.Equal(items, first.Concat(second));
        Assert.Equal(6, first.Count); // round(5.5) = 6 (to even), so the second half starts at 6
    }

    [Theory]
    [InlineData("0.5")]
    [InlineData("0.6:0.5")]
    [InlineData("-0.1:1")]
    [InlineData("0:1.5")]
    public void BadSlicesNameTheOption(string text)
    {
        var e = Assert.Throws<ArgumentException>(() => TextSlice.Parse(text, "--calibration-slice"));
        Assert.Contains("--calibration-slice", e.Message);
        Assert.Contains(text, e.Message);
    }

    [Fact]
    public void MedianOfOddAndEvenCounts()
    {
        Assert.Equal(3, Median.Of([5, 1, 3]));
        Assert.Equal(2.5, Median.Of([4, 1, 3, 2]));
        Assert.Throws<ArgumentException>(() => Median.Of([]));
    }
}
