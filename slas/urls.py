app_name = "slas"

urlpatterns = []
