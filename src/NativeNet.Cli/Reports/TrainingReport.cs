using NativeNet.Data;
using NativeNet.Persistence;
using NativeNet.Training;
using ScottPlot;

namespace NativeNet.Cli.Reports;

/// <summary>
/// The PNG report of a training run, written next to metrics.json: accuracy.png (validation, and training when
/// monitored, per epoch), cost.png, misclassified.png (up to 36 misclassified test digits labelled "pred/true") and
/// confusion.png (true class by predicted class on the test set). Rendering uses ScottPlot (SkiaSharp); each file is
/// written atomically; a failure to render or write is one warning line on stderr and never fails the run.
/// </summary>
internal static class TrainingReport
{
    public const string AccuracyFile = "accuracy.png", CostFile = "cost.png", MisclassifiedFile = "misclassified.png", ConfusionFile = "confusion.png";
    public static readonly string[] Files = [AccuracyFile, CostFile, MisclassifiedFile, ConfusionFile];

    /// <summary>
    /// Writes the report into <paramref name="dir"/>, evaluating the model saved at <paramref name="bestModelPath"/> when
    /// it exists, else <paramref name="fallback"/>. Returns false (after one warning line) when anything fails.
    /// </summary>
    public static bool TryWrite(string dir, IReadOnlyList<EpochReport> epochs, string? bestModelPath, Network fallback, LabeledImages test, TextWriter log)
    {
        try
        {
            Network? loaded = bestModelPath is not null && File.Exists(bestModelPath) ? ModelFile.Load(bestModelPath, fallback.Backend) : null;
            try
            {
                Write(dir, epochs, loaded ?? fallback, test);
            }
            finally
            {
                loaded?.Dispose();
            }
            log.WriteLine($"Plots: {string.Join(", ", Files)} in {dir}");
            return true;
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"warning: could not write the PNG plots ({e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")}); the training results are unaffected.");
            return false;
        }
    }

    public static void Write(string dir, IReadOnlyList<EpochReport> epochs, Network net, LabeledImages test)
    {
        Directory.CreateDirectory(dir);
        WriteAccuracy(Path.Combine(dir, AccuracyFile), epochs);
        WriteCost(Path.Combine(dir, CostFile), epochs);
        var predicted = Predict(net, test);
        WriteMisclassified(Path.Combine(dir, MisclassifiedFile), test, predicted);
        WriteConfusion(Path.Combine(dir, ConfusionFile), test.Labels, predicted, net.OutputSize);
    }

    /// <summary>The most likely class of every test image, by batched inference.</summary>
    public static int[] Predict(Network net, LabeledImages data)
    {
        int k = net.OutputSize, chunk = Network.PredictBatchCapacity;
        var result = new int[data.Count];
        var scores = new float[chunk * k];
        for (int start = 0; start < data.Count; start += chunk)
        {
            int n = Math.Min(chunk, data.Count - start);
            net.PredictBatch(data.Pixels.AsSpan(start * data.Features, n * data.Features), scores.AsSpan(0, n * k));
            for (int i = 0; i < n; i++) result[start + i] = System.Numerics.Tensors.TensorPrimitives.IndexOfMax(scores.AsSpan(i * k, k));
        }
        return result;
    }

    private static void WriteAccuracy(string path, IReadOnlyList<EpochReport> epochs)
    {
        var plot = new Plot();
        double[] x = epochs.Select(e => (double)e.Epoch).ToArray();
        var validation = plot.Add.Scatter(x, epochs.Select(e => e.ValidationAccuracy * 100).ToArray());
        validation.LegendText = "validation";
        if (epochs.Count > 0 && epochs.All(e => e.TrainingAccuracy is not null))
            plot.Add.Scatter(x, epochs.Select(e => e.TrainingAccuracy!.Value * 100).ToArray()).LegendText = "training";
        var tests = epochs.Where(e => e.TestAccuracy is not null).ToArray();
        if (tests.Length > 0)
        {
            var t = plot.Add.ScatterPoints(tests.Select(e => (double)e.Epoch).ToArray(), tests.Select(e => e.TestAccuracy!.Value * 100).ToArray());
            t.LegendText = "test (at a new best validation)";
        }
        SaveEpochPlot(plot, path, "Accuracy per epoch", "accuracy (%)", Alignment.LowerRight);
    }

    private static void WriteCost(string path, IReadOnlyList<EpochReport> epochs)
    {
        var plot = new Plot();
        double[] x = epochs.Select(e => (double)e.Epoch).ToArray();
        plot.Add.Scatter(x, epochs.Select(e => e.ValidationCost).ToArray()).LegendText = "validation";
        if (epochs.Count > 0 && epochs.All(e => e.TrainingCost is not null))
            plot.Add.Scatter(x, epochs.Select(e => e.TrainingCost!.Value).ToArray()).LegendText = "training";
        SaveEpochPlot(plot, path, "Cost per epoch (with the L2 term)", "mean cost", Alignment.UpperRight);
    }

    /// <summary>The per-epoch curves' common frame: integer epoch ticks, title, axis labels, legend, 800 x 500 PNG.</summary>
    private static void SaveEpochPlot(Plot plot, string path, string title, string yLabel, Alignment legend)
    {
        IntegerEpochTicks(plot);
        plot.Title(title);
        plot.XLabel("epoch");
        plot.YLabel(yLabel);
        plot.ShowLegend(legend);
        Save(plot, path, 800, 500);
    }

    /// <summary>Renders to memory, then writes atomically: a full disk leaves the previous PNG or none, never a truncated one.</summary>
    internal static void Save(Plot plot, string path, int width, int height) =>
        AtomicFile.WriteAllBytes(path, plot.GetImageBytes(width, height, ImageFormat.Png));

    /// <summary>Epochs on the x axis as whole numbers only.</summary>
    internal static void IntegerEpochTicks(Plot plot) =>
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };

    /// <summary>A 6x6 grid of the first misclassified test images, each labelled "predicted/true" above it.</summary>
    private static void WriteMisclassified(string path, LabeledImages test, int[] predicted)
    {
        const int columns = 6, maxImages = columns * columns, gap = 2, labelRows = 9;
        var wrong = Enumerable.Range(0, test.Count).Where(i => predicted[i] != test.Labels[i]).Take(maxImages).ToArray();
        int rows = Math.Max(1, (wrong.Length + columns - 1) / columns);
        int h = test.Rows, w = test.Cols;
        int cellW = w + gap, cellH = h + labelRows + gap;
        int width = columns * cellW + gap, height = rows * cellH + gap;
        var image = new double[height, width];
        for (int y = 0; y < height; y++) for (int x = 0; x < width; x++) image[y, x] = 0.15;
        var plot = new Plot();
        for (int n = 0; n < wrong.Length; n++)
        {
            int top = gap + n / columns * cellH + labelRows, left = gap + n % columns * cellW;
            var pixels = test.Image(wrong[n]);
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                    image[top + y, left + x] = pixels[y * w + x];
        }
        var heatmap = plot.Add.Heatmap(image);
        heatmap.Colormap = new ScottPlot.Colormaps.Grayscale();
        heatmap.ManualRange = new ScottPlot.Range(0, 1);
        // Pixel (row y, column x) is centred on (x + 0.5, height - y - 0.5) in plot coordinates.
        heatmap.Position = new CoordinateRect(0.5, width - 0.5, 0.5, height - 0.5);
        for (int n = 0; n < wrong.Length; n++)
        {
            int top = gap + n / columns * cellH, left = gap + n % columns * cellW;
            var text = plot.Add.Text($"{predicted[wrong[n]]}/{test.Labels[wrong[n]]}", left + w / 2.0, height - top - labelRows / 2.0);
            text.LabelFontColor = Colors.White;
            text.LabelFontSize = 15;
            text.LabelBold = true;
            text.LabelAlignment = Alignment.MiddleCenter;
        }
        if (wrong.Length == 0)
        {
            var none = plot.Add.Text("no misclassified test images", width / 2.0, height / 2.0);
            none.LabelFontColor = Colors.White;
            none.LabelAlignment = Alignment.MiddleCenter;
        }
        plot.Axes.SetLimits(0, width, 0, height);
        plot.Axes.Frameless();
        plot.HideGrid();
        Save(plot, path, width * 4, height * 4);
    }

    /// <summary>Counts of (true class, predicted class) on the test set; rows are the true class, top to bottom.</summary>
    private static void WriteConfusion(string path, byte[] labels, int[] predicted, int classes)
    {
        var counts = new double[classes, classes];
        for (int i = 0; i < predicted.Length; i++) counts[labels[i], predicted[i]]++;
        var plot = new Plot();
        // Log-scaled colours so the off-diagonal errors are visible next to the large diagonal.
        var shade = new double[classes, classes];
        for (int r = 0; r < classes; r++) for (int c = 0; c < classes; c++) shade[r, c] = Math.Log10(1 + counts[r, c]);
        var heatmap = plot.Add.Heatmap(shade);
        heatmap.Colormap = new ScottPlot.Colormaps.Viridis();
        // Position spans the centres of the corner cells (row 0 at the top): cell (r, c) is centred on (c, classes - 1 - r).
        heatmap.Position = new CoordinateRect(0, classes - 1, 0, classes - 1);
        double max = shade.Cast<double>().DefaultIfEmpty(0).Max();
        for (int r = 0; r < classes; r++)
            for (int c = 0; c < classes; c++)
            {
                var text = plot.Add.Text(counts[r, c].ToString("0"), c, classes - 1 - r);
                text.LabelAlignment = Alignment.MiddleCenter;
                text.LabelFontSize = 13;
                text.LabelFontColor = shade[r, c] > 0.6 * max ? Colors.Black : Colors.White;
            }
        var ticks = Enumerable.Range(0, classes).Select(i => (double)i).ToArray();
        plot.Axes.Bottom.SetTicks(ticks, ticks.Select(t => t.ToString("0")).ToArray());
        plot.Axes.Left.SetTicks(ticks.Select(t => classes - 1 - t).ToArray(), ticks.Select(t => t.ToString("0")).ToArray());
        plot.Axes.SetLimits(-0.5, classes - 0.5, -0.5, classes - 0.5);
        int errors = predicted.Where((p, i) => p != labels[i]).Count();
        plot.Title($"Confusion matrix on {predicted.Length:N0} test images ({errors:N0} errors)");
        plot.XLabel("predicted");
        plot.YLabel("true");
        plot.HideGrid();
        Save(plot, path, 700, 650);
    }
}
