"""Amazon Forecast (`forecast`) and its query runtime (`forecastquery`)."""
