#include "app/app.h"

int main(int argc, char** argv) {
  return promewma::app::RunPromewma(argc, argv);
}
