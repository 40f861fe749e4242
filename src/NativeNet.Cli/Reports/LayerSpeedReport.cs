using NativeNet.Training;
using ScottPlot;

namespace NativeNet.Cli.Reports;

/// <summary>
/// layer-speed.png: chapter 5's picture of the vanishing gradient, ||delta^l|| of every hidden layer per epoch (one line
/// per layer) on a logarithmic axis, so layers whose speeds differ by orders of magnitude are all readable.
/// </summary>
internal static class LayerSpeedReport
{
    /// <summary>The picture's file name in the run's output folder.</summary>
    public const string File = "layer-speed.png";

    /// <summary>Writes the plot into <paramref name="dir"/>; false (after one warning line) when rendering fails.</summary>
    public static bool TryWrite(string dir, IReadOnlyList<LayerSpeedRecord> history, int images, TextWriter log)
    {
        try
        {
            Write(Path.Combine(dir, File), history, images);
            log.WriteLine($"Plot: {File} in {dir}");
            return true;
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"warning: could not write {File} ({e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")}); the training results are unaffected.");
            return false;
        }
    }

    /// <summary>Draws the history (epochs on x, log10 of each hidden layer's norm on y) into a PNG at <paramref name="path"/>.</summary>
    public static void Write(string path, IReadOnlyList<LayerSpeedRecord> history, int images)
    {
        var plot = new Plot();
        int layers = history.Count == 0 ? 0 : history[0].Norms.Count;
        double[] epochs = history.Select(r => (double)r.Epoch).ToArray();
        for (int l = 0; l < layers; l++)
        {
            // The axis is log10 of the norm; the tick labels below turn it back into the norm. A norm of 0 cannot be drawn.
            double[] logNorms = history.Select(r => r.Norms[l] > 0 ? Math.Log10(r.Norms[l]) : double.NaN).ToArray();
            var line = plot.Add.Scatter(epochs, logNorms);
            line.LegendText = $"hidden layer {l + 1}";
        }
        var ticks = new ScottPlot.TickGenerators.NumericAutomatic
        {
            IntegerTicksOnly = true,
            MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
            LabelFormatter = y => Math.Pow(10, y).ToString("G4", System.Globalization.CultureInfo.InvariantCulture),
        };
        plot.Axes.Left.TickGenerator = ticks;
        TrainingReport.IntegerEpochTicks(plot);
        plot.Title($"Speed of learning: ||delta|| per hidden layer ({images:N0} training images)");
        plot.XLabel("epoch");
        plot.YLabel("||delta^l|| (log scale)");
        plot.ShowLegend(Alignment.LowerRight);
        TrainingReport.Save(plot, path, 800, 500);
    }
}
