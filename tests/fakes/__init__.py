"""Local fakes of the providers this machine cannot reach, speaking their real wire formats."""
