"""MLflow "models from code" entry point: the saved model runs this file to get its predictor."""
from mlflow.models import set_model

from labcoat.tracking.pyfunc import LabcoatPyfunc

set_model(LabcoatPyfunc())
