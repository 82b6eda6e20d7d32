/*
 * svg.c — the inline-SVG primitives of the HTML report (see svg.h).
 */
#include "svg.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

void jb_html_escape(FILE *f, const char *t)
{
    for (; t && *t; t++) {
        switch (*t) {
        case '&':
            fputs("&amp;", f);
            break;
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        default:
            fputc(*t, f);
        }
    }
}

const char *jb_svg_color(size_t i)
{
    static const char *pal[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd",
                                "#8c564b", "#e377c2", "#17becf", "#bcbd22"};
    return pal[i % (sizeof pal / sizeof pal[0])];
}

double jb_svg_px(const jb_svg *s, double x)
{
    return s->ml + (x - s->x0) / (s->x1 - s->x0) * (s->w - s->ml - s->mr);
}

double jb_svg_py(const jb_svg *s, double y)
{
    return s->h - s->mb - (y - s->y0) / (s->y1 - s->y0) * (s->h - s->mt - s->mb);
}

static double nice_step(double span)
{
    double raw = span / 5, p = pow(10, floor(log10(raw))), m = raw / p;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

static void fix_range(double *a, double *b)
{
    if (!isfinite(*a) || !isfinite(*b)) *a = 0, *b = 1;
    if (*b <= *a) {
        double c = *a;
        *a = c - (fabs(c) > 0 ? fabs(c) * 0.1 : 0.5);
        *b = c + (fabs(c) > 0 ? fabs(c) * 0.1 : 0.5);
    }
}

void jb_svg_begin(jb_svg *s, FILE *f, double w, double h, double x0, double x1, double y0,
                  double y1, const char *title, const char *xlabel, const char *ylabel)
{
    fix_range(&x0, &x1);
    fix_range(&y0, &y1);
    *s = (jb_svg){.f = f,
                  .w = w,
                  .h = h,
                  .ml = 64,
                  .mr = 16,
                  .mt = 28,
                  .mb = 44,
                  .x0 = x0,
                  .x1 = x1,
                  .y0 = y0,
                  .y1 = y1};
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"plot\" width=\"%.0f\" "
            "height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" role=\"img\"><title>",
            w, h, w, h);
    jb_html_escape(f, title);
    fprintf(f, "</title><text x=\"%.0f\" y=\"18\" class=\"pt\">", s->ml);
    jb_html_escape(f, title);
    fprintf(f,
            "</text>\n<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
            "class=\"frame\"/>\n",
            s->ml, s->mt, w - s->ml - s->mr, h - s->mt - s->mb);
    double st = nice_step(x1 - x0);
    for (double v = ceil(x0 / st) * st; xlabel && *xlabel && v <= x1 + st * 1e-9; v += st)
        fprintf(f,
                "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" class=\"tick\"/>"
                "<text x=\"%.1f\" y=\"%.1f\" class=\"tl\" text-anchor=\"middle\">%g</text>\n",
                jb_svg_px(s, v), jb_svg_px(s, v), h - s->mb, h - s->mb + 4, jb_svg_px(s, v),
                h - s->mb + 16, fabs(v) < st * 1e-9 ? 0 : v);
    st = nice_step(y1 - y0);
    for (double v = ceil(y0 / st) * st; ylabel && *ylabel && v <= y1 + st * 1e-9; v += st)
        fprintf(f,
                "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>"
                "<text x=\"%.1f\" y=\"%.1f\" class=\"tl\" text-anchor=\"end\">%g</text>\n",
                s->ml, w - s->mr, jb_svg_py(s, v), jb_svg_py(s, v), s->ml - 4, jb_svg_py(s, v) + 4,
                fabs(v) < st * 1e-9 ? 0 : v);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"al\" text-anchor=\"middle\">", (w + s->ml) / 2,
            h - 8);
    jb_html_escape(f, xlabel);
    fprintf(f,
            "</text><text transform=\"translate(14 %.1f) rotate(-90)\" class=\"al\" "
            "text-anchor=\"middle\">",
            (h - s->mb + s->mt) / 2);
    jb_html_escape(f, ylabel);
    fputs("</text>\n", f);
}

void jb_svg_end(jb_svg *s)
{
    fputs("</svg>\n", s->f);
}

static void emit_pts(jb_svg *s, const double *x, const double *y, size_t n, const char *color,
                     double width, double opacity)
{
    size_t step = n > JB_SVG_MAX_POINTS ? (n + JB_SVG_MAX_POINTS - 1) / JB_SVG_MAX_POINTS : 1;
    bool open = false;
    for (size_t i = 0; i < n; i += step) {
        double sx = 0, sy = 0;
        size_t k = 0;
        for (size_t j = i; j < i + step && j < n; j++)
            if (isfinite(x[j]) && isfinite(y[j])) sx += x[j], sy += y[j], k++;
        if (!k) {
            if (open) fputs("\"/>\n", s->f);
            open = false;
            continue;
        }
        if (!open)
            fprintf(s->f,
                    "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"%.2g\" "
                    "stroke-opacity=\"%.2g\" points=\"",
                    color, width, opacity);
        fprintf(s->f, "%s%.1f,%.1f", open ? " " : "", jb_svg_px(s, sx / k), jb_svg_py(s, sy / k));
        open = true;
    }
    if (open) fputs("\"/>\n", s->f);
}

void jb_svg_line(jb_svg *s, const double *x, const double *y, size_t n, const char *color,
                 double width, double opacity)
{
    if (n) emit_pts(s, x, y, n, color, width, opacity);
}

static void tip(FILE *f, const char *t)
{
    if (!t) return;
    fputs("<title>", f);
    jb_html_escape(f, t);
    fputs("</title>", f);
}

void jb_svg_point(jb_svg *s, double x, double y, double r, const char *color, const char *t)
{
    if (!isfinite(x) || !isfinite(y)) return;
    fprintf(s->f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" fill=\"%s\">", jb_svg_px(s, x),
            jb_svg_py(s, y), r, color);
    tip(s->f, t);
    fputs("</circle>\n", s->f);
}

void jb_svg_rect(jb_svg *s, double x0, double x1, double y0, double y1, const char *color,
                 double opacity, const char *t)
{
    if (!isfinite(x0) || !isfinite(x1) || !isfinite(y0) || !isfinite(y1)) return;
    double a = jb_svg_px(s, x0), b = jb_svg_px(s, x1), c = jb_svg_py(s, y1), d = jb_svg_py(s, y0);
    fprintf(s->f,
            "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\" "
            "fill-opacity=\"%.2g\">",
            fmin(a, b), fmin(c, d), fabs(b - a), fabs(d - c), color, opacity);
    tip(s->f, t);
    fputs("</rect>\n", s->f);
}

void jb_svg_errbar(jb_svg *s, double x, double y, double lo, double hi, const char *color,
                   const char *t)
{
    if (isfinite(lo) && isfinite(hi))
        fprintf(s->f,
                "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                "stroke-width=\"2\"/>\n",
                jb_svg_px(s, x), jb_svg_px(s, x), jb_svg_py(s, lo), jb_svg_py(s, hi), color);
    jb_svg_point(s, x, y, 4, color, t);
}

void jb_svg_text(jb_svg *s, double x, double y, const char *anchor, const char *text)
{
    fprintf(s->f, "<text x=\"%.1f\" y=\"%.1f\" class=\"tl\" text-anchor=\"%s\">", jb_svg_px(s, x),
            jb_svg_py(s, y), anchor);
    jb_html_escape(s->f, text);
    fputs("</text>\n", s->f);
}
