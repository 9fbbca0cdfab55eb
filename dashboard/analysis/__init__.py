"""Pure arithmetic over epoch records: orderings, group means, trends and gains. No Dash, no plotly."""
