using ScottPlot;

namespace NativeNet.Cli.Reports;

/// <summary>One network size's curves for universality.png: the target, the bump construction and the trained network, sampled on [0, 1].</summary>
internal sealed record UniversalityPanel(int Neurons, double[] X, double[] Target, double[] Construction, double[] Trained, double ConstructionError, double TrainedError);

/// <summary>universality.png: one panel per hidden-layer size, stacked, each with the three curves and their maximum errors.</summary>
internal static class UniversalityReport
{
    /// <summary>The picture's file name in the output folder.</summary>
    public const string File = "universality.png";

    /// <summary>Draws one panel per network size, stacked top to bottom, into a PNG at <paramref name="path"/>.</summary>
    public static void Write(string path, IReadOnlyList<UniversalityPanel> panels)
    {
        var figure = new Multiplot();
        figure.AddPlots(panels.Count);
        for (int i = 0; i < panels.Count; i++)
        {
            var p = panels[i];
            var plot = figure.GetPlot(i);
            var target = plot.Add.ScatterLine(p.X, p.Target);
            target.LegendText = "f(x), the target";
            target.LineWidth = 3;
            var construction = plot.Add.ScatterLine(p.X, p.Construction);
            construction.LegendText = $"construction: {(p.Neurons + 1) / 2} bumps (max error {p.ConstructionError:F3})";
            var trained = plot.Add.ScatterLine(p.X, p.Trained);
            trained.LegendText = $"trained by SGD (max error {p.TrainedError:F3})";
            trained.LineWidth = 2;
            plot.Title($"[1, {p.Neurons}, 1]: {p.Neurons} hidden sigmoid neurons");
            plot.XLabel("x");
            plot.YLabel("output");
            plot.ShowLegend(Alignment.UpperLeft);
        }
        figure.SavePng(path, 900, 380 * Math.Max(1, panels.Count));
    }
}
