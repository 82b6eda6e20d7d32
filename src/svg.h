/*
 * svg.h — minimal inline-SVG plotting for the HTML report: a plot frame with
 * linear axes and ticks, polylines (downsampled to at most JB_SVG_MAX_POINTS
 * points), points, rectangles, error bars and text. Writes straight to a FILE;
 * no JavaScript, no external resources.
 */
#ifndef JB_SVG_H
#define JB_SVG_H

#include <stddef.h>
#include <stdio.h>

#define JB_SVG_MAX_POINTS 1000

typedef struct jb_svg {
    FILE *f;
    double w, h;           /* pixels */
    double ml, mr, mt, mb; /* margins */
    double x0, x1, y0, y1; /* data ranges */
} jb_svg;

/* Open an <svg> of w×h with axes for [x0,x1]×[y0,y1] (ranges widened when
 * empty), ticks, axis labels and an accessible title. An axis with an empty
 * label gets no ticks (its positions are categories the caller labels). */
void jb_svg_begin(jb_svg *s, FILE *f, double w, double h, double x0, double x1, double y0,
                  double y1, const char *title, const char *xlabel, const char *ylabel);
void jb_svg_end(jb_svg *s);

double jb_svg_px(const jb_svg *s, double x);
double jb_svg_py(const jb_svg *s, double y);

/* A line through (x[i], y[i]); non-finite points break the line. More than
 * JB_SVG_MAX_POINTS points are reduced by bucket means. */
void jb_svg_line(jb_svg *s, const double *x, const double *y, size_t n, const char *color,
                 double width, double opacity);
void jb_svg_point(jb_svg *s, double x, double y, double r, const char *color, const char *tip);
/* A rectangle in data coordinates with a tooltip (may be NULL). */
void jb_svg_rect(jb_svg *s, double x0, double x1, double y0, double y1, const char *color,
                 double opacity, const char *tip);
/* Vertical error bar at x from lo to hi with a point at y. */
void jb_svg_errbar(jb_svg *s, double x, double y, double lo, double hi, const char *color,
                   const char *tip);
/* Text at data coordinates (anchor "start", "middle", "end"). */
void jb_svg_text(jb_svg *s, double x, double y, const char *anchor, const char *text);

/* Write text with &, <, >, " escaped. */
void jb_html_escape(FILE *f, const char *text);

/* A colour for series i (a fixed palette). */
const char *jb_svg_color(size_t i);

#endif
