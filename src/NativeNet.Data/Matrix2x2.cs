namespace NativeNet.Data;

/// <summary>
/// A 2x2 linear map on pixel offsets from the image centre, in (x = column, y = row)
/// coordinates with y pointing down: x' = M11 x + M12 y, y' = M21 x + M22 y.
/// </summary>
/// <remarks>
/// <see cref="Expansion.Affine"/> treats it as the forward map from source to destination,
/// so <see cref="Scale"/>(2, 2) enlarges the digit.
/// </remarks>
/// <param name="M11">Weight of x in x'.</param>
/// <param name="M12">Weight of y in x'.</param>
/// <param name="M21">Weight of x in y'.</param>
/// <param name="M22">Weight of y in y'.</param>
public readonly record struct Matrix2x2(float M11, float M12, float M21, float M22)
{
    /// <summary>The identity map.</summary>
    public static Matrix2x2 Identity => new(1, 0, 0, 1);

    /// <summary>The determinant; 0 for a map that collapses the image.</summary>
    public float Determinant => (M11 * M22) - (M12 * M21);

    /// <summary>
    /// Counter-clockwise rotation as seen on screen (rows drawn downwards) by
    /// <paramref name="degrees"/>. Multiples of 90 degrees are exact, so they move pixels
    /// onto pixels without interpolation blur.
    /// </summary>
    /// <param name="degrees">The angle in degrees.</param>
    public static Matrix2x2 Rotation(double degrees)
    {
        double quarterTurns = degrees / 90;
        (float sin, float cos) = Math.IEEERemainder(quarterTurns, 1) == 0
            ? ExactQuarterTurn((int)(((long)quarterTurns % 4 + 4) % 4))
            : ((float, float))Math.SinCos(degrees * Math.PI / 180);

        // With y down, a screen-counter-clockwise turn is the mathematical clockwise one.
        return new(cos, sin, -sin, cos);
    }

    /// <summary>Scales x (columns) by <paramref name="sx"/> and y (rows) by <paramref name="sy"/>.</summary>
    /// <param name="sx">Factor on x.</param>
    /// <param name="sy">Factor on y.</param>
    public static Matrix2x2 Scale(float sx, float sy) => new(sx, 0, 0, sy);

    /// <summary>Horizontal shear: x' = x + <paramref name="k"/> y.</summary>
    /// <param name="k">The shear factor.</param>
    public static Matrix2x2 Shear(float k) => new(1, k, 0, 1);

    /// <summary>Applies <paramref name="b"/> first, then <paramref name="a"/>.</summary>
    /// <param name="a">The map applied second.</param>
    /// <param name="b">The map applied first.</param>
    public static Matrix2x2 operator *(Matrix2x2 a, Matrix2x2 b) => new(
        (a.M11 * b.M11) + (a.M12 * b.M21),
        (a.M11 * b.M12) + (a.M12 * b.M22),
        (a.M21 * b.M11) + (a.M22 * b.M21),
        (a.M21 * b.M12) + (a.M22 * b.M22));

    /// <summary>The inverse map.</summary>
    /// <exception cref="ArgumentException">The matrix is singular.</exception>
    public Matrix2x2 Inverse()
    {
        float det = Determinant;
        if (det == 0 || !float.IsFinite(det))
        {
            throw new ArgumentException($"The matrix {this} is singular and has no inverse.");
        }

        float inv = 1 / det;
        return new(M22 * inv, -M12 * inv, -M21 * inv, M11 * inv);
    }

    private static (float Sin, float Cos) ExactQuarterTurn(int quarter) => quarter switch
    {
        0 => (0, 1),
        1 => (1, 0),
        2 => (0, -1),
        _ => (-1, 0),
    };
}
