using System.Reflection;
using Spectre.Console.Cli;

namespace NativeNet.Cli;

/// <summary>
/// Rejects NaN and infinite values of every numeric option of every command as soon as the command line is parsed,
/// before a command runs: `--lambda NaN` or `--momentum Infinity` would otherwise slip past range checks written as
/// comparisons (every comparison with NaN is false) and fail far away with a misleading message.
/// </summary>
internal sealed class FiniteNumbers : ICommandInterceptor
{
    public void Intercept(CommandContext context, CommandSettings settings)
    {
        foreach (var property in settings.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            double? value = property.GetValue(settings) switch { float f => f, double d => d, _ => null };
            if (value is not double v || double.IsFinite(v)) continue;
            string option = property.GetCustomAttribute<CommandOptionAttribute>()?.LongNames is [var name, ..] ? "--" + name : property.Name;
            throw new ArgumentException($"{option} is {v.ToString(System.Globalization.CultureInfo.InvariantCulture)}; expected a finite number.");
        }
    }
}
