"""liqheat: an open, measured liquidation heatmap for crypto perpetual futures."""

__version__ = "0.1.0"
