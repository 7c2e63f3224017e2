"""Amazon Personalize: datasets, recipes trained as durable jobs, campaigns, filters, events and batch jobs."""
