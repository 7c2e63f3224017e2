"""What every service shares: settings, the AWS wire protocol, errors, auth, storage, jobs and the HTTP app."""
