print("ees")
