from rest_framework.routers import SimpleRouter

from accounts.api import views

router = SimpleRouter()
router.register("teams", views.TeamViewSet)
router.register("users", views.UserViewSet)

urlpatterns = router.urls
